package waf

// Levers names the speed levers for the tests of package waf_test.
type Levers = levers

// NewWithLevers is New with some levers off.
func NewWithLevers(c Config, opts Options, prose, rxPrefilter, ownFirst, re2 bool) (*Stage, error) {
	return newStage(c, opts, levers{prose: prose, rxPrefilter: rxPrefilter, ownFirst: ownFirst, re2: re2})
}
