package scan

import (
	"context"
	"fmt"
	"net/http"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The checks of the performance group.
var (
	checkPerformanceLoad = define(CheckInfo{ID: "performance.load", Group: "performance", OWASP: OWASPResource, CWE: 400, Severity: SeverityMedium,
		Title:       "Load test failed its latency or error threshold",
		Remediation: "Find the slow operations in the report, add capacity or caching, or relax the threshold if it is wrong."})
)

var _ = runs("performance", runPerformance)

func (s *scanner) perfSet(p *Performance) {
	s.mu.Lock()
	s.perf = p
	s.mu.Unlock()
}

// perfResult returns the load test result (s.mu held).
func perfResult(s *scanner) *Performance { return s.perf }

// runPerformance runs a vegeta load test over the read operations whose
// baseline succeeded. The attack's HTTP client is the scanner's: the same
// budget gates every request, so --rate and --max-requests hold here too.
func runPerformance(ctx context.Context, s *scanner) {
	if !isLoopbackHost(s.base.Hostname()) && !s.cfg.AllowLoadNonLoopback {
		s.note("performance test skipped: %s is not a loopback address (allow_load_non_loopback permits it)", s.base.Hostname())
		return
	}
	var targets []vegeta.Target
	for _, o := range s.ops {
		if o.op.Method != http.MethodGet || !o.res.ok() {
			continue
		}
		hr, err := o.req.build(s.base)
		if err != nil {
			continue
		}
		h := hr.Header.Clone()
		if o.req.ident >= 0 && o.req.ident < len(s.ids) {
			for k, v := range s.ids[o.req.ident].header() {
				h[k] = v
			}
		}
		targets = append(targets, vegeta.Target{Method: http.MethodGet, URL: hr.URL.String(), Header: h})
	}
	if len(targets) == 0 {
		s.note("performance test skipped: no read operation answered 2xx")
		return
	}
	pc := s.cfg.Performance
	rate := pc.Rate
	if s.cfg.Rate > 0 && float64(rate) > s.cfg.Rate {
		rate = int(s.cfg.Rate)
	}
	if rate < 1 {
		rate = 1
	}
	atk := vegeta.NewAttacker(vegeta.Client(s.client), vegeta.MaxWorkers(64))
	var m vegeta.Metrics
	results := atk.Attack(vegeta.NewStaticTargeter(targets...), vegeta.Rate{Freq: rate, Per: 1e9}, pc.Duration, "portcullis-scan")
loop:
	for {
		select {
		case r, ok := <-results:
			if !ok {
				break loop
			}
			m.Add(r)
		case <-ctx.Done():
			atk.Stop()
		}
	}
	m.Close()
	p := &Performance{
		Rate: float64(rate), Duration: pc.Duration, Requests: m.Requests,
		P50: m.Latencies.P50, P90: m.Latencies.P90, P99: m.Latencies.P99,
		ErrorRate: 1 - m.Success,
	}
	if m.Requests == 0 {
		p.ErrorRate = 0
	}
	p.Passed = m.Requests > 0 && p.P99 <= pc.MaxP99 && p.ErrorRate <= pc.MaxErrorRate
	s.perfSet(p)
	if !p.Passed {
		s.reportKey(checkPerformanceLoad, nil, "", ConfidenceCertain, Evidence{
			Request: fmt.Sprintf("%d GET operations at %d requests/s for %s", len(targets), rate, pc.Duration),
			Detail: fmt.Sprintf("p50 %s, p90 %s, p99 %s (max %s), error rate %.2f%% (max %.2f%%) over %d requests",
				p.P50, p.P90, p.P99, pc.MaxP99, 100*p.ErrorRate, 100*pc.MaxErrorRate, m.Requests),
		}, false, "")
	}
}
