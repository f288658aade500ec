package waf

import "github.com/portcullis/portcullis/internal/pipeline"

// Levers names the speed levers for the tests of package waf_test.
type Levers = levers

// NewWithLevers is New with some levers off.
func NewWithLevers(c Config, opts Options, prose, rxPrefilter, ownFirst, re2 bool) (*Stage, error) {
	return newStage(c, opts, levers{prose: prose, rxPrefilter: rxPrefilter, ownFirst: ownFirst, re2: re2})
}

// NewWithoutUAMemo is New reading every User-Agent afresh.
func NewWithoutUAMemo(c Config, opts Options) (*Stage, error) {
	lv := allLevers
	lv.noUAMemo = true
	return newStage(c, opts, lv)
}

// CostOf is what x would be charged against its client's budget, in KiB
// (0: free, or the CRS would not run), without charging it.
func (s *Stage) CostOf(x *pipeline.Exchange) (int64, error) {
	in := inspection{s: s, x: x, argLoc: map[string]string{}, raw: map[string]string{}}
	if err := in.collect(); err != nil || in.parseErr != "" || in.budgetExceeded {
		return 0, err
	}
	if !(in.needCoraza || s.feedAll) {
		return 0, nil
	}
	return s.cfg.ClientBudget.cost(in.crsText()), nil
}

// The phrase sets (filled by init) and their matchers, for the comparison with a general
// Aho-Corasick implementation.
var (
	GatePatterns      = func() []string { return gatePatterns }
	GateOfPattern     = func(i int) uint32 { return uint32(gateOfPattern[i]) }
	CRSPhrasePatterns = func() []string { return crsPhrasePatterns }
	Gates             = func(v string) uint32 { return uint32(gates(v)) }
	CRSPhrase         = crsPhrase
)

// ProseBothWays is prose(v) skipping runs of plain bytes, and byte by byte.
func ProseBothWays(v string) (fast, slow bool) {
	fast = prose(v)
	skipProseRuns = false
	defer func() { skipProseRuns = true }()
	return fast, prose(v)
}
