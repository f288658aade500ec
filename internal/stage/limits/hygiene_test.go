package limits

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
)

// TestHeaderHygiene is the unit regression test for findings 2 and 10 of
// issue 11: odd header names are dropped (or refused, or allowed, as
// configured), spellings of gateway-owned headers are always refused, and
// method and URL overrides are refused unless allowed.
func TestHeaderHygiene(t *testing.T) {
	form := func(body string) *http.Request {
		r := httptest.NewRequest("POST", "/x", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	get := func(target string, hdr ...string) *http.Request {
		r := httptest.NewRequest("GET", target, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header[hdr[i]] = []string{hdr[i+1]}
		}
		return r
	}
	tests := []struct {
		name    string
		cfg     Config
		req     *http.Request
		headers []string // declared by the API (pipeline.Build.Headers)
		rule    string   // "" means accepted
		dropped []string // header keys that must be gone
		kept    []string
	}{
		{name: "underscore dropped by default", req: get("/x", "X_Tenant", "2", "X-Tenant", "1"), dropped: []string{"X_Tenant"}, kept: []string{"X-Tenant"}},
		{name: "dot dropped by default", req: get("/x", "x.tenant", "2"), dropped: []string{"x.tenant"}},
		{name: "underscore refused", cfg: Config{UnderscoreHeaders: "refuse"}, req: get("/x", "X_Tenant", "2"), rule: RuleHeaderName},
		{name: "underscore allowed", cfg: Config{UnderscoreHeaders: "allow"}, req: get("/x", "X_Tenant", "2"), kept: []string{"X_Tenant"}},
		{name: "principal spoof refused", cfg: Config{UnderscoreHeaders: "allow"}, req: get("/x", "X-Principal_Id", "1"), rule: RuleSpoofedHeader},
		{name: "forwarded spoof refused", req: get("/x", "X_Forwarded_For", "10.0.0.1"), rule: RuleSpoofedHeader},
		{name: "real ip spoof refused", req: get("/x", "x.real.ip", "10.0.0.1"), rule: RuleSpoofedHeader},
		{name: "request id spoof refused", req: get("/x", "X-Request_Id", "x"), rule: RuleSpoofedHeader},
		{name: "method override header", req: get("/x", "X-Http-Method-Override", "DELETE"), rule: RuleMethodOverride},
		{name: "method override other name", req: get("/x", "X-Method-Override", "PUT"), rule: RuleMethodOverride},
		{name: "method override odd spelling", cfg: Config{UnderscoreHeaders: "allow"}, req: get("/x", "X_HTTP_Method", "PUT"), rule: RuleMethodOverride},
		{name: "method override query", req: get("/x?a=1&_method=DELETE"), rule: RuleMethodOverride},
		{name: "method override query encoded", req: get("/x?%5Fmethod=DELETE"), rule: RuleMethodOverride},
		{name: "method override query case", req: get("/x?_METHOD=put"), rule: RuleMethodOverride},
		{name: "method override form", req: form("a=1&_method=DELETE"), rule: RuleMethodOverride},
		{name: "method override allowed", cfg: Config{MethodOverride: "allow"}, req: get("/x?_method=DELETE", "X-Http-Method-Override", "DELETE")},
		{name: "a parameter that only looks alike", req: get("/x?my_method=a&method=b")},
		{name: "url override", req: get("/x", "X-Original-Url", "/admin"), rule: RuleURLOverride},
		{name: "rewrite url", req: get("/x", "X-Rewrite-Url", "/admin"), rule: RuleURLOverride},
		{name: "original uri odd spelling", cfg: Config{UnderscoreHeaders: "allow"}, req: get("/x", "X_Original_URI", "/admin"), rule: RuleURLOverride},
		{name: "declared underscore header kept", headers: []string{"api_key"}, req: get("/x", "api_key", "k", "X_Tenant", "2"), kept: []string{"api_key"}, dropped: []string{"X_Tenant"}},
		{name: "declared header in another case kept", headers: []string{"api_key"}, req: get("/x", "API_KEY", "k"), kept: []string{"API_KEY"}},
		{name: "declared header refused with a second spelling", headers: []string{"api_key"}, req: get("/x", "api_key", "k", "Api-Key", "other"), rule: RuleHeaderName},
		{name: "declared header with an odd second spelling dropped", headers: []string{"api_key"}, req: get("/x", "api_key", "k", "api.key", "other"), kept: []string{"api_key"}, dropped: []string{"api.key"}},
		{name: "declared header never excuses a spoof", headers: []string{"X_Principal_Id"}, req: get("/x", "X_Principal_Id", "admin"), rule: RuleSpoofedHeader},
		{name: "canonical declared names change nothing", headers: []string{"X-Tenant"}, req: get("/x", "X_Tenant", "2"), dropped: []string{"X_Tenant"}},
		{name: "url override allowed", cfg: Config{URLOverride: "allow"}, req: get("/x", "X-Original-Url", "/admin"), kept: []string{"X-Original-Url"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(tc.cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			l.hygiene.declare(tc.headers)
			x := pipeline.NewExchange(tc.req, "r", time.Now())
			d, err := l.Request(context.Background(), x)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if d != nil {
				got = d.Rules[0]
			}
			if got != tc.rule {
				t.Fatalf("got %q (%+v), want %q", got, d, tc.rule)
			}
			for _, k := range tc.dropped {
				if _, ok := tc.req.Header[k]; ok {
					t.Errorf("%s was not dropped", k)
				}
			}
			for _, k := range tc.kept {
				if _, ok := tc.req.Header[k]; !ok {
					t.Errorf("%s was dropped", k)
				}
			}
		})
	}
}

func TestNormalizerRefusesConnect(t *testing.T) {
	r := httptest.NewRequest("CONNECT", "http://a.example:443", nil)
	d, _ := NewNormalizer().Request(context.Background(), pipeline.NewExchange(r, "r", time.Now()))
	if d == nil || d.Status != http.StatusNotImplemented || d.Rules[0] != RuleConnect {
		t.Fatalf("got %+v, want 501 %s", d, RuleConnect)
	}
}
