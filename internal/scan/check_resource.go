package scan

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/openapi"
)

// The checks of the resource group.
var (
	checkResourceRateLimit = define(CheckInfo{ID: "resource.rate-limit", Group: "resource", OWASP: OWASPResource, CWE: 770, Severity: SeverityMedium,
		Title:       "No rate limiting",
		Remediation: "Rate limit per client and per identity, answering 429 with RateLimit and Retry-After headers."})
	checkResourcePageSize = define(CheckInfo{ID: "resource.page-size", Group: "resource", OWASP: OWASPResource, CWE: 770, Severity: SeverityMedium,
		Title:       "Unbounded page size",
		Remediation: "Cap page sizes server side at the documented maximum."})
	checkResourceLargeBody = define(CheckInfo{ID: "resource.large-body", Group: "resource", OWASP: OWASPResource, CWE: 770, Severity: SeverityMedium,
		Title:       "Large request bodies accepted",
		Remediation: "Limit request body size (413) to what the operation needs."})
	checkResourceRedos = define(CheckInfo{ID: "resource.redos", Group: "resource", OWASP: OWASPResource, CWE: 1333, Severity: SeverityMedium,
		Title:       "Slow regular expression (ReDoS)",
		Remediation: "Use a linear-time regex engine or bound input length before matching."})
)

var _ = runs("resource", runResource)

// pageParam names the parameters that size a page.
var pageParam = regexp.MustCompile(`(?i)^(limit|page_?size|per_?page|size|count|max|max_?results|top|take|first)$`)

func runResource(ctx context.Context, s *scanner) {
	s.rateLimit(ctx)
	s.eachOp(ctx, s.pageSize)
	large := 0
	for _, o := range s.ops {
		if large >= 3 || s.exhausted.Load() {
			break
		}
		if s.largeBody(ctx, o) {
			large++
		}
	}
	s.eachOp(ctx, s.redos)
}

// rateLimit sends a bounded burst to one cheap read and expects a 429 or
// rate-limit headers.
func (s *scanner) rateLimit(ctx context.Context) {
	var o *opState
	for _, x := range s.ops {
		if x.op.Method == http.MethodGet && x.res.ok() && !strings.Contains(x.op.Path, "{") {
			if o == nil || x.op.Public() && !o.op.Public() {
				o = x
			}
		}
	}
	if o == nil {
		return
	}
	if hasRateLimitHeaders(o.res) {
		return
	}
	var mu sync.Mutex
	var sent, limited int
	var last *result
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < s.cfg.Burst && !s.exhausted.Load(); i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			res := s.send(ctx, o.req.clone())
			mu.Lock()
			defer mu.Unlock()
			if res.err != nil {
				return
			}
			sent++
			last = res
			if res.status == http.StatusTooManyRequests || hasRateLimitHeaders(res) {
				limited++
			}
		}()
	}
	wg.Wait()
	if sent == s.cfg.Burst && limited == 0 {
		s.report(checkResourceRateLimit, o, "", ConfidenceFirm, s.evidence(last,
			fmt.Sprintf("a burst of %d requests: no 429 and no rate-limit headers", sent)))
	}
}

// itemCount counts the items of a list answer: a JSON array, or the
// largest array member of an object.
func itemCount(res *result) int {
	switch v := res.json().(type) {
	case []any:
		return len(v)
	case map[string]any:
		n := 0
		for _, x := range v {
			if a, ok := x.([]any); ok && len(a) > n {
				n = len(a)
			}
		}
		return n
	}
	return 0
}

// pageSize asks for a page far above the declared maximum.
func (s *scanner) pageSize(ctx context.Context, o *opState) {
	if !o.res.ok() || o.op.Method != http.MethodGet {
		return
	}
	for _, p := range o.op.Parameters {
		if p.In != "query" || !pageParam.MatchString(p.Name) || p.Schema == nil {
			continue
		}
		t := openapi.SchemaTypes(p.Schema.Raw)
		if !slices.Contains(t, "integer") && !slices.Contains(t, "number") {
			continue
		}
		loc := location{in: "query", name: p.Name, schema: p.Schema.Raw}
		m, declared := num(p.Schema.Raw["maximum"])
		if !declared {
			// No maximum declared: a page far above any sane one (100000)
			// must be refused. Accepted, it is reported; as certain when
			// more items than the baseline's page came back, else as
			// tentative (the API may cap it silently, which the answer
			// cannot show with few objects).
			const ask = 100000
			res := s.probe(ctx, o, loc, strconv.Itoa(ask))
			if gatewayRefusal(res) || !res.ok() {
				continue
			}
			conf, more := ConfidenceTentative, ""
			if n, base := itemCount(res), itemCount(o.res); n > base && n > 0 {
				conf, more = ConfidenceCertain, fmt.Sprintf(" and got %d items (the baseline %d)", n, base)
			}
			s.report(checkResourcePageSize, o, loc.String(), conf, s.evidence(res,
				fmt.Sprintf("the description declares no maximum for %s; asked for %d items, the answer was %d%s, not a refusal", p.Name, ask, res.status, more)))
			continue
		}
		limit := int(m)
		ask := max(limit*10, 1000)
		res := s.probe(ctx, o, loc, strconv.Itoa(ask))
		if gatewayRefusal(res) || !res.ok() {
			continue
		}
		if n := itemCount(res); n > limit {
			s.report(checkResourcePageSize, o, loc.String(), ConfidenceCertain, s.evidence(res,
				fmt.Sprintf("asked for %d items (maximum %d): got %d", ask, limit, n)))
		}
	}
}

// largeBody pads the first string member of a JSON body to LargeBody
// bytes; a 2xx answer means no body limit. It reports whether it probed.
func (s *scanner) largeBody(ctx context.Context, o *opState) bool {
	if o.req.body == nil || !o.res.ok() {
		return false
	}
	var loc *location
	for _, l := range o.req.locations() {
		if l.stringy() && s.mayGarble(o, l) {
			loc = &l
			break
		}
	}
	if loc == nil {
		return false
	}
	r := o.req.clone()
	r.set(*loc, strings.Repeat("a", s.cfg.LargeBody))
	res := s.send(ctx, r)
	if gatewayRefusal(res) {
		return true
	}
	if res.ok() {
		s.report(checkResourceLargeBody, o, loc.String(), ConfidenceCertain, s.evidence(res,
			fmt.Sprintf("a %d-byte body was accepted with %d", s.cfg.LargeBody, res.status)))
	}
	return true
}

// redosShapes are the inputs of the ReDoS probe: a long run of one class
// of characters that ends in a mismatch, the classic input that makes
// nested or overlapping quantifiers ((a+)+$, ([a-z0-9]+)*@, (\w+\s?)*$)
// backtrack exponentially, with a short one of the same shape as control.
var redosShapes = []struct {
	unit, end string
}{
	{"a", "!"},
	{"a ", "!"},
}

// redos runs the ReDoS probe on every string location (query, path,
// header, body) of every operation whose baseline got through, whatever
// its method: the long input must not be much slower than the short one,
// calibrated against a fresh control twice (timeBased).
func (s *scanner) redos(ctx context.Context, o *opState) {
	if !o.res.reached() || s.loginOpOf(o.op) != nil {
		return
	}
	for _, loc := range o.req.locations() {
		if !loc.stringy() || !s.mayGarble(o, loc) {
			continue
		}
		for _, sh := range redosShapes {
			n := 48 / len(sh.unit)
			ok, res, detail := s.timeBased(func(d time.Duration) *result {
				k := 4
				if d > 0 {
					k = n
				}
				return s.probe(ctx, o, loc, strings.Repeat(sh.unit, k)+sh.end)
			}, false)
			if ok {
				s.report(checkResourceRedos, o, loc.String(), ConfidenceFirm, s.evidence(res,
					fmt.Sprintf("%d repetitions of %q took much longer than 4: %s", n, sh.unit, detail)))
				break
			}
			if s.exhausted.Load() || ctx.Err() != nil {
				return
			}
		}
	}
}
