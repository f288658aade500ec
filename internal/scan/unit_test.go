package scan

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/openapi"
)

// fakeClock is a clock that sleeping advances.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.t = c.t.Add(d)
	return nil
}

func TestBudgetNeverExceedsRateOrTotal(t *testing.T) {
	tests := []struct {
		name string
		rate float64
		max  int
		send int
	}{
		{"10 per second", 10, 0, 100},
		{"2.5 per second", 2.5, 0, 40},
		{"half per second", 0.5, 0, 10},
		{"total only", 0, 7, 20},
		{"rate and total", 100, 50, 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Unix(1000, 0)}
			b := NewBudget(tt.rate, tt.max)
			b.now, b.sleep = clk.now, clk.sleep
			var times []time.Time
			for i := 0; i < tt.send; i++ {
				err := b.Acquire(context.Background())
				if errors.Is(err, ErrBudget) {
					break
				}
				if err != nil {
					t.Fatalf("Acquire: %v", err)
				}
				times = append(times, clk.t)
			}
			if tt.max > 0 && len(times) != min(tt.max, tt.send) {
				t.Errorf("got %d admitted, want %d", len(times), min(tt.max, tt.send))
			}
			if tt.max > 0 && b.Remaining() != 0 && tt.send >= tt.max {
				t.Errorf("got %d remaining, want 0", b.Remaining())
			}
			if tt.rate <= 0 {
				return
			}
			limit := max(1, int(tt.rate))
			for i := range times {
				n := 0
				for j := i; j < len(times) && times[j].Sub(times[i]) < time.Second; j++ {
					n++
				}
				if float64(n) > max(tt.rate, 1) {
					t.Fatalf("got %d requests within one second, want at most %d", n, limit)
				}
			}
		})
	}
}

func TestBudgetTransportRefusesWhenSpent(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	c := &http.Client{Transport: NewBudget(0, 2).Transport(nil)}
	for i := 0; i < 3; i++ {
		resp, err := c.Get(srv.URL)
		if i < 2 {
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			resp.Body.Close()
			continue
		}
		if !errors.Is(err, ErrBudget) {
			t.Errorf("got %v, want ErrBudget", err)
		}
	}
	if hits != 2 {
		t.Errorf("got %d requests at the server, want 2", hits)
	}
}

func TestSelectGroups(t *testing.T) {
	tests := []struct {
		in   []string
		want string
		err  bool
	}{
		{nil, "functional,injection,authentication,authorization,property,resource,misconfiguration,ssrf", false},
		{[]string{"all"}, "functional,injection,authentication,authorization,property,resource,misconfiguration,ssrf", false},
		{[]string{"injection,ssrf"}, "injection,ssrf", false},
		{[]string{"-injection", "-ssrf"}, "functional,authentication,authorization,property,resource,misconfiguration", false},
		{[]string{"all,performance,-functional"}, "injection,authentication,authorization,property,resource,misconfiguration,ssrf,performance", false},
		{[]string{"sqli"}, "", true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, " "), func(t *testing.T) {
			got, err := SelectGroups(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("got error %v, want error %v", err, tt.err)
			}
			if s := strings.Join(got, ","); !tt.err && s != tt.want {
				t.Errorf("got %s, want %s", s, tt.want)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"valid", "spec: a.yaml\ntarget: http://127.0.0.1:8081\nrate: 10\ntimeout: 3s\nperformance:\n  duration: 2s\n", ""},
		{"unknown key with position", "spec: a.yaml\ntarget: http://x\nratee: 10\n", "[3:1]"},
		{"wrong type", "spec: a.yaml\ntarget: http://x\nrate: fast\n", "[3:7]"},
		{"not http", "spec: a.yaml\ntarget: file:///etc\n", "must be an http"},
		{"bad severity", "spec: a.yaml\ntarget: http://x\nfail_on: urgent\n", "fail_on"},
		{"time delay too small", "spec: a.yaml\ntarget: http://x\ntime_delay: 100ms\n", "time_delay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.yaml))
			if err == nil {
				err = c.Validate()
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
			if tt.name == "valid" && (c.Timeout != 3*time.Second || c.Performance.Duration != 2*time.Second) {
				t.Errorf("got timeout %v and duration %v, want 3s and 2s", c.Timeout, c.Performance.Duration)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("spec: a.yaml\ntarget: http://127.0.0.1\nchecks: [all, -ssrf]\n"))
	f.Add([]byte("identities:\n  - login: {operation: login, body: {u: 1}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err == nil {
			_ = c.Validate()
		}
	})
}

func TestGatewayRefusalMarksBlocked(t *testing.T) {
	tests := []struct {
		name   string
		status int
		ct     string
		body   string
		want   bool
	}{
		{"portcullis problem", 403, "application/problem+json", `{"status":403,"stage":"waf.crs"}`, true},
		{"api problem", 400, "application/problem+json", `{"status":400,"detail":"bad"}`, false},
		{"json 403", 403, "application/json", `{"stage":"x"}`, false},
		{"5xx", 502, "application/problem+json", `{"stage":"proxy"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &result{status: tt.status, header: http.Header{"Content-Type": {tt.ct}}, body: []byte(tt.body)}
			if got := gatewayRefusal(r); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExampleValuesMatchTheirSchemas(t *testing.T) {
	spec, err := openapi.Parse([]byte(`openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /x:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              required: [a, b, c, d, e]
              properties:
                a: {type: string, format: email}
                b: {type: integer, minimum: 5, maximum: 9}
                c: {type: string, pattern: "^[A-Z]{3}$", maxLength: 3}
                d: {type: array, minItems: 2, items: {type: boolean}}
                e: {allOf: [{type: string, enum: [x, y]}]}
                f: {type: string, readOnly: true}
      responses: {"200": {description: ok}}
`), "")
	if err != nil {
		t.Fatal(err)
	}
	op := spec.Operations()[0]
	sc := op.RequestBody.Content["application/json"].Schema
	v := exampleOf(sc.Raw)
	if errs := sc.Validate(toJSONValue(v), 0); len(errs) > 0 {
		t.Errorf("generated %v, invalid: %v", v, errs)
	}
	if _, ok := v.(map[string]any)["f"]; ok {
		t.Errorf("got readOnly member f in %v, want it left out", v)
	}
}

// benchSpec generates a description with n GET operations.
func benchSpec(n int) []byte {
	var b strings.Builder
	b.WriteString("openapi: 3.1.0\ninfo: {title: bench, version: \"1\"}\npaths:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  /r%d:\n    get:\n      parameters:\n        - {name: q, in: query, schema: {type: string, maxLength: 32}, example: abc}\n      responses:\n        \"200\": {description: ok, content: {application/json: {schema: {type: object}}}}\n", i)
	}
	return []byte(b.String())
}

// BenchmarkScan measures scan throughput (requests/s the scanner sustains
// against a fast local target) and how scan time grows with the number of
// operations.
func BenchmarkScan(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("RateLimit-Policy", "100;w=1")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	for _, n := range []int{10, 50, 200} {
		spec, err := openapi.Parse(benchSpec(n), "")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("ops=%d", n), func(b *testing.B) {
			reqs := 0
			for i := 0; i < b.N; i++ {
				rep, err := Run(context.Background(), Config{Spec: "bench", Target: srv.URL, Checks: []string{"-ssrf"}}, Options{Spec: spec})
				if err != nil {
					b.Fatal(err)
				}
				reqs += rep.Requests
			}
			b.ReportMetric(float64(reqs)/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(float64(reqs)/float64(b.N), "req/scan")
		})
	}
}

func TestEveryGroupRegistersItsChecksAndRunner(t *testing.T) {
	have := map[string]int{}
	for _, c := range Checks() {
		have[c.Group]++
		if c.CWE <= 0 {
			t.Errorf("check %s has no CWE id", c.ID)
		}
	}
	for _, g := range Groups {
		if groupRunners[g] == nil {
			t.Errorf("group %s has no run function", g)
		}
		if have[g] == 0 {
			t.Errorf("group %s has no check", g)
		}
	}
}

func TestWrongHeadersKeepTheSchemeAndChangeTheCredential(t *testing.T) {
	jwt := b64json(map[string]any{"alg": "HS256", "typ": "JWT"}) + "." + b64json(map[string]any{"sub": "alice"}) + ".c2lnbmF0dXJl"
	jwtHead, _, _ := strings.Cut(jwt, ".")
	tests := []struct {
		name, header, value string
		want                func(got string) bool
	}{
		{"bearer jwt: signature changed", "Authorization", "Bearer " + jwt, func(got string) bool {
			return strings.HasPrefix(got, "Bearer "+jwtHead+".") && got != "Bearer "+jwt && strings.Count(got, ".") == 2
		}},
		{"token scheme", "Authorization", "Token abc123", func(got string) bool { return got == "Token bcd234" }},
		{"api key", "X-Api-Key", "k-Zz9", func(got string) bool { return got == "l-Aa0" }},
		{"cookie", "Cookie", "session=abc; theme=z", func(got string) bool { return got == "session=bcd; theme=a" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(tt.header, tt.value)
			got := wrongHeaders(h).Get(tt.header)
			if !tt.want(got) {
				t.Errorf("got %q for %q", got, tt.value)
			}
		})
	}
}
