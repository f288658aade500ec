package metrics

import (
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// series returns name's series in m's registry as "label=value,... value".
func series(t *testing.T, m *Metrics, name string) []string {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, mt := range f.GetMetric() {
			var ls []string
			for _, l := range mt.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			out = append(out, strings.Join(ls, ",")+" "+value(mt))
		}
	}
	sort.Strings(out)
	return out
}

func value(mt *dto.Metric) string {
	switch {
	case mt.Counter != nil:
		return fmtFloat(mt.Counter.GetValue())
	case mt.Histogram != nil:
		return fmtFloat(float64(mt.Histogram.GetSampleCount()))
	}
	return "?"
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// TestObserveRequestSeries checks that the cached children count into the
// registry's series, per API, decision and status class, and that no series
// appears for what was never observed (bytes of a request without a body).
func TestObserveRequestSeries(t *testing.T) {
	m := New()
	m.ObserveRequest("a", "allow", 200, time.Millisecond, 0, 10)
	m.ObserveRequest("a", "allow", 204, time.Millisecond, 5, 0)
	m.ObserveRequest("a", "deny", 403, time.Millisecond, 0, 0)
	m.ObserveRequest("", "deny", 404, time.Millisecond, 0, 0)
	m.ObserveRequest("b", "error", 42, time.Millisecond, 0, 0)
	for _, tt := range []struct {
		name string
		want []string
	}{
		{"portcullis_requests_total", []string{
			"api=a,decision=allow,status_class=2xx 2",
			"api=a,decision=deny,status_class=4xx 1",
			"api=b,decision=error,status_class=other 1",
			"api=none,decision=deny,status_class=4xx 1",
		}},
		{"portcullis_request_duration_seconds", []string{"api=a 3", "api=b 1", "api=none 1"}},
		{"portcullis_request_body_bytes_total", []string{"api=a 5"}},
		{"portcullis_response_body_bytes_total", []string{"api=a 10"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := series(t, m, tt.name)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
