package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// documentedMetrics are the portcullis_* metrics docs/metrics.md lists
// (its own test keeps that list equal to what the gateway exports).
func documentedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	doc := mustRead(t, "../docs/metrics.md")
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(portcullis_[a-z_]+)`").FindAllSubmatch(doc, -1) {
		out[string(m[1])] = true
	}
	if len(out) < 20 {
		t.Fatalf("docs/metrics.md lists only %d metrics", len(out))
	}
	return out
}

// metricRefs are the portcullis_* names an expression uses, a histogram's
// _bucket/_sum/_count series counted as the histogram.
func metricRefs(expr string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`portcullis_[a-z_]+`).FindAllString(expr, -1) {
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if s, ok := strings.CutSuffix(m, suf); ok && strings.HasSuffix(s, "_seconds") {
				m = s
			}
		}
		out = append(out, m)
	}
	return out
}

// TestPrometheusRules: `promtool check rules` accepts the alerting rules,
// `promtool test rules` fires them on synthetic series as expected, and
// every metric they use is one the gateway exports.
func TestPrometheusRules(t *testing.T) {
	promtool := need(t, "promtool")
	for _, args := range [][]string{{"check", "rules", "monitoring/prometheus-rules.yaml"}, {"test", "rules", "monitoring/prometheus-rules.test.yaml"}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if !strings.Contains(string(out), "SUCCESS") {
			t.Fatalf("promtool %s: %s", strings.Join(args, " "), out)
		}
	}
	known := documentedMetrics(t)
	for _, m := range metricRefs(string(mustRead(t, "monitoring/prometheus-rules.yaml"))) {
		if !known[m] {
			t.Errorf("prometheus-rules.yaml uses %s, which the gateway does not export", m)
		}
	}
}

// TestGrafanaDashboard: the dashboard is valid JSON with a datasource
// variable; every panel query parses as PromQL (promtool checks each as a
// recording rule, Grafana's interval variables replaced) and uses only
// exported metrics.
func TestGrafanaDashboard(t *testing.T) {
	promtool := need(t, "promtool")
	var dash struct {
		UID        string `json:"uid"`
		Templating struct {
			List []struct{ Name, Type string } `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(mustRead(t, "monitoring/grafana-dashboard.json"), &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	hasDS := false
	for _, v := range dash.Templating.List {
		hasDS = hasDS || v.Type == "datasource"
	}
	if dash.UID == "" || !hasDS || len(dash.Panels) < 10 {
		t.Fatalf("dashboard: uid %q, datasource variable %v, %d panels", dash.UID, hasDS, len(dash.Panels))
	}
	known := documentedMetrics(t)
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: grafana\n    rules:\n")
	n := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, m := range metricRefs(q.Expr) {
				if !known[m] {
					t.Errorf("panel %q uses %s, which the gateway does not export", p.Title, m)
				}
			}
			e := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$instance", ".*").Replace(q.Expr)
			b, _ := json.Marshal(e) // a JSON string is a YAML string
			n++
			fmt.Fprintf(&rules, "      - record: grafana:panel_%d\n        expr: %s\n", n, b)
		}
	}
	f := filepath.Join(t.TempDir(), "panels.yaml")
	if err := os.WriteFile(f, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput()
	if err != nil {
		t.Fatalf("a panel query does not parse: %v\n%s", err, out)
	}
	t.Logf("%d panels, %d queries parsed by promtool", len(dash.Panels), n)
}
