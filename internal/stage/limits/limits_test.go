package limits

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
)

// marker is put into refused input; no reason may ever contain it.
const marker = "XSSMARKER"

// readCounter is a request body that counts the bytes read from it.
type readCounter struct {
	r io.Reader
	n int
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
func (c *readCounter) Close() error { return nil }

func newExchange(r *http.Request) *pipeline.Exchange {
	return pipeline.NewExchange(r, "req-1", time.Unix(0, 0))
}

func jsonRequest(body string) *http.Request {
	r := httptest.NewRequest("POST", "/v1/items", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// chunked makes r look like a request whose body came without a
// Content-Length, as Go's server presents a chunked upload.
func chunked(r *http.Request) *http.Request {
	r.ContentLength = -1
	r.TransferEncoding = []string{"chunked"}
	return r
}

func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + `[]` + strings.Repeat(`}`, depth-1)
}

func manyQuery(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString("p=1")
	}
	return b.String()
}

func TestLimiter(t *testing.T) {
	tests := []struct {
		name     string
		api      *Config
		req      func() *http.Request
		rule     string // "" = must pass
		status   int
		location string
	}{
		{name: "plain get", req: func() *http.Request { return httptest.NewRequest("GET", "/v1/pets?limit=10&offset=20", nil) }},
		{name: "url at limit", req: func() *http.Request { return httptest.NewRequest("GET", "/"+strings.Repeat("a", 8191), nil) }},
		{name: "url too long", req: func() *http.Request { return httptest.NewRequest("GET", "/"+strings.Repeat("a", 8192), nil) },
			rule: RuleURLLength, status: 414, location: "path"},
		{name: "url limit off", api: &Config{MaxURLLength: -1}, req: func() *http.Request { return httptest.NewRequest("GET", "/"+strings.Repeat("a", 9000), nil) }},
		{name: "query params at limit", req: func() *http.Request { return httptest.NewRequest("GET", "/x?"+manyQuery(100), nil) }},
		{name: "query params empty items not counted", req: func() *http.Request {
			return httptest.NewRequest("GET", "/x?"+manyQuery(100)+strings.Repeat("&", 50), nil)
		}},
		{name: "too many query params", req: func() *http.Request { return httptest.NewRequest("GET", "/x?"+manyQuery(101), nil) },
			rule: RuleQueryParams, status: 400, location: "query"},
		{name: "encoded slash in query value", req: func() *http.Request { return httptest.NewRequest("GET", "/x?path=a%2Fb%2Fc", nil) }},
		{name: "headers large but allowed", req: func() *http.Request {
			r := httptest.NewRequest("GET", "/x", nil)
			for i := range 5 {
				r.Header.Add("X-Big", strings.Repeat("a", 6<<10)) // 30 KiB in lines under 8 KiB
				_ = i
			}
			return r
		}},
		{name: "headers too large", req: func() *http.Request {
			r := httptest.NewRequest("GET", "/x", nil)
			for i := range 6 {
				r.Header.Add("X-Big", strings.Repeat("a", 5<<10))
				_ = i
			}
			r.Header.Add("X-Big", strings.Repeat(marker, 700))
			return r
		}, rule: RuleHeaderBytes, status: 431, location: "header"},
		{name: "content-length too large", req: func() *http.Request {
			return httptest.NewRequest("PUT", "/upload", bytes.NewReader(make([]byte, 1<<20+1)))
		}, rule: RuleBodySize, status: 413, location: "body"},
		{name: "large but allowed body", req: func() *http.Request {
			return httptest.NewRequest("PUT", "/upload", bytes.NewReader(make([]byte, 1<<20)))
		}},
		{name: "chunked body too large", req: func() *http.Request {
			return chunked(httptest.NewRequest("PUT", "/upload", bytes.NewReader(make([]byte, 1<<20+1))))
		}, rule: RuleBodySize, status: 413, location: "body"},
		{name: "chunked body allowed", req: func() *http.Request {
			return chunked(httptest.NewRequest("PUT", "/upload", bytes.NewReader(make([]byte, 1<<20))))
		}},
		{name: "chunked body limit off", api: &Config{MaxBodyBytes: -1}, req: func() *http.Request {
			return chunked(httptest.NewRequest("PUT", "/upload", bytes.NewReader(make([]byte, 2<<20))))
		}},
		{name: "broken body", req: func() *http.Request {
			r := chunked(httptest.NewRequest("PUT", "/upload", nil))
			r.Body = io.NopCloser(iotest.ErrReader(io.ErrUnexpectedEOF))
			return r
		}, rule: RuleBodyRead, status: 400, location: "body"},
		{name: "json ok", req: func() *http.Request { return jsonRequest(`{"name":"rex","tags":["a","b"]}`) }},
		{name: "json deeply but allowed", req: func() *http.Request { return jsonRequest(nested(32)) }},
		{name: "json too deep", req: func() *http.Request { return jsonRequest(nested(33)) },
			rule: RuleJSONDepth, status: 400, location: "body:" + strings.Repeat("/a", 16) + "/…"},
		{name: "json too deep shallow pointer", api: &Config{MaxJSONDepth: 3}, req: func() *http.Request {
			return jsonRequest(`{"items":[{"tags":[1]}]}`)
		}, rule: RuleJSONDepth, status: 400, location: "body:/items/0/tags"},
		{name: "json depth limit in api", api: &Config{MaxJSONDepth: 100}, req: func() *http.Request { return jsonRequest(nested(100)) }},
		{name: "json elements at limit", req: func() *http.Request { return jsonRequest("[" + strings.Repeat("1,", 9998) + "1]") }},
		{name: "json too many elements", req: func() *http.Request { return jsonRequest("[" + strings.Repeat("1,", 9999) + "1]") },
			rule: RuleJSONElements, status: 400, location: "body:/9999"},
		{name: "json malformed", req: func() *http.Request { return jsonRequest(`{"a":"` + marker + `",}`) },
			rule: RuleJSONMalformed, status: 400, location: "body"},
		{name: "json invalid utf8", req: func() *http.Request { return jsonRequest("{\"a\":\"\xff" + marker + "\"}") },
			rule: RuleJSONMalformed, status: 400, location: "body"},
		{name: "json chunked malformed", req: func() *http.Request { return chunked(jsonRequest(`[1,2`)) },
			rule: RuleJSONMalformed, status: 400, location: "body"},
		{name: "plus json malformed", req: func() *http.Request {
			r := jsonRequest(`{oops}`)
			r.Header.Set("Content-Type", "application/vnd.api+json; charset=utf-8")
			return r
		}, rule: RuleJSONMalformed, status: 400, location: "body"},
		{name: "json with charset", req: func() *http.Request {
			r := jsonRequest(nested(40))
			r.Header.Set("Content-Type", "Application/JSON ; charset=utf-8")
			return r
		}, rule: RuleJSONDepth, status: 400},
		{name: "not json content type", req: func() *http.Request {
			r := jsonRequest(`{oops`)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}},
		{name: "json limits off", api: &Config{MaxJSONDepth: -1, MaxJSONElements: -1}, req: func() *http.Request { return jsonRequest(`{oops`) }},
		{name: "json empty body", req: func() *http.Request { return chunked(jsonRequest(``)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(Config{}, tc.api)
			if err != nil {
				t.Fatal(err)
			}
			x := newExchange(tc.req())
			x.BodyLimit = l.BodyLimit()
			d, err := l.Request(context.Background(), x)
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if tc.rule == "" {
				if d != nil {
					t.Fatalf("got denial %+v, want none", d)
				}
				return
			}
			if d == nil {
				t.Fatalf("got no denial, want %s", tc.rule)
			}
			checkDenial(t, d, ID, tc.rule, tc.status, tc.location)
		})
	}
}

func checkDenial(t *testing.T, d *pipeline.Denial, stage, rule string, status int, location string) {
	t.Helper()
	if !slices.Equal(d.Rules, []string{rule}) {
		t.Errorf("got rules %v, want [%s]", d.Rules, rule)
	}
	if d.Status != status {
		t.Errorf("got status %d, want %d", d.Status, status)
	}
	if location != "" && d.Location != location {
		t.Errorf("got location %q, want %q", d.Location, location)
	}
	if d.Location == "" {
		t.Error("got empty location")
	}
	if d.Stage != stage {
		t.Errorf("got stage %q, want %q", d.Stage, stage)
	}
	if d.Reason == "" || strings.Contains(d.Reason, marker) || strings.Contains(d.Detail, marker) {
		t.Errorf("got reason %q detail %q, want safe text", d.Reason, d.Detail)
	}
	if d.Severity == "" {
		t.Error("got empty severity")
	}
}

// TestLimiterReadsOnlyWhenNeeded checks that bodies are left unread unless
// a limit needs them, and that a read body is still there for the proxy.
func TestLimiterReadsOnlyWhenNeeded(t *testing.T) {
	tests := []struct {
		name     string
		ctype    string
		length   int64 // Content-Length; -1 = chunked
		size     int
		wantRead bool
		wantDeny bool
	}{
		{"declared too large is not read", "application/octet-stream", 5 << 20, 5 << 20, false, true},
		{"declared json too large is not read", "application/json", 5 << 20, 5 << 20, false, true},
		{"binary with length is not read", "application/octet-stream", 1000, 1000, false, false},
		{"chunked binary is read", "application/octet-stream", -1, 1000, true, false},
		{"json is read", "application/json", 2, 2, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(Config{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			payload := bytes.Repeat([]byte(" "), tc.size)
			if tc.ctype == "application/json" {
				payload[0], payload[len(payload)-1] = '[', ']'
			}
			body := &readCounter{r: bytes.NewReader(payload)}
			r := httptest.NewRequest("POST", "/x", nil)
			r.Body, r.ContentLength = body, tc.length
			r.Header.Set("Content-Type", tc.ctype)
			x := newExchange(r)
			d, err := l.Request(context.Background(), x)
			if err != nil {
				t.Fatal(err)
			}
			if got := d != nil; got != tc.wantDeny {
				t.Errorf("got denial %v, want %v", d, tc.wantDeny)
			}
			if got := body.n > 0; got != tc.wantRead {
				t.Errorf("got read %d bytes, want read %v", body.n, tc.wantRead)
			}
			if tc.wantRead && !tc.wantDeny {
				rest, err := io.ReadAll(r.Body)
				if err != nil || !bytes.Equal(rest, payload) {
					t.Errorf("got %d bytes for the proxy (err %v), want the %d inspected", len(rest), err, len(payload))
				}
			}
		})
	}
}

// TestLimiterBoundsUnsetExchangeLimit checks that the limiter enforces its
// own body limit even when the gateway left Exchange.BodyLimit unset.
func TestLimiterBoundsUnsetExchangeLimit(t *testing.T) {
	l, err := New(Config{MaxBodyBytes: 100}, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := &readCounter{r: bytes.NewReader(make([]byte, 10<<20))}
	r := chunked(httptest.NewRequest("POST", "/x", nil))
	r.Body = body
	x := newExchange(r) // BodyLimit 0: unlimited
	d, err := l.Request(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	if d == nil || d.Rules[0] != RuleBodySize {
		t.Fatalf("got %+v, want %s", d, RuleBodySize)
	}
	if body.n > 64<<10 {
		t.Errorf("got %d bytes read, want the read stopped near the 100-byte limit", body.n)
	}
}

// recorder is a stage that records whether it ran.
type recorder struct{ ran int }

func (r *recorder) ID() string { return "recorder" }
func (r *recorder) Request(context.Context, *pipeline.Exchange) (*pipeline.Denial, error) {
	r.ran++
	return nil, nil
}

func TestChainStopsAtDenial(t *testing.T) {
	l, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		stage   pipeline.Stage
		req     func() *http.Request
		wantRan int
	}{
		{"limiter denial", l, func() *http.Request { return jsonRequest(nested(50)) }, 0},
		{"limiter pass", l, func() *http.Request { return jsonRequest(nested(5)) }, 1},
		{"normaliser denial", NewNormalizer(), func() *http.Request { return httptest.NewRequest("GET", "/a/%2e%2e/b", nil) }, 0},
		{"normaliser pass", NewNormalizer(), func() *http.Request { return httptest.NewRequest("GET", "/a/b..c", nil) }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			chain := pipeline.Chain{{Stage: tc.stage}, {Stage: rec}}
			d := chain.Run(context.Background(), newExchange(tc.req()))
			if (d != nil) != (tc.wantRan == 0) {
				t.Errorf("got denial %+v, want denial %v", d, tc.wantRan == 0)
			}
			if rec.ran != tc.wantRan {
				t.Errorf("got next ran %d times, want %d", rec.ran, tc.wantRan)
			}
		})
	}
}

func TestIsJSON(t *testing.T) {
	tests := []struct {
		ctype string
		want  bool
	}{
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"APPLICATION/JSON", true},
		{"text/json", true},
		{"application/problem+json", true},
		{"application/vnd.api+json;v=1", true},
		{"application/x-ndjson", false},
		{"application/jsonx", false},
		{"+json", false},
		{"text/plain", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.ctype, func(t *testing.T) {
			h := http.Header{}
			if tc.ctype != "" {
				h.Set("Content-Type", tc.ctype)
			}
			if got := isJSON(h); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestErrBodyTooLargeFromExchange(t *testing.T) {
	// A gateway limit tighter than the limiter's comes back as
	// pipeline.ErrBodyTooLarge and is still a 413.
	l, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := newExchange(chunked(httptest.NewRequest("POST", "/x", bytes.NewReader(make([]byte, 500)))))
	x.BodyLimit = 100
	d, err := l.Request(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	if d == nil || d.Status != 413 {
		t.Fatalf("got %+v, want 413", d)
	}
	if _, err := x.Body(); !errors.Is(err, pipeline.ErrBodyTooLarge) {
		t.Errorf("got %v, want ErrBodyTooLarge", err)
	}
}

func BenchmarkLimitsGET(b *testing.B) {
	l, err := New(Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	n := NewNormalizer()
	r := httptest.NewRequest("GET", "/v1/pets/42/photos?limit=10&offset=20&sort=name", nil)
	r.Header.Set("User-Agent", "bench/1.0")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Authorization", "Bearer abc.def.ghi")
	x := newExchange(r)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := n.Request(ctx, x); d != nil {
			b.Fatal(d)
		}
		if d, _ := l.Request(ctx, x); d != nil {
			b.Fatal(d)
		}
	}
}

func BenchmarkLimitsJSON1KB(b *testing.B) {
	l, err := New(Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	n := NewNormalizer()
	doc := jsonDoc(1024)
	ctx := context.Background()
	r := httptest.NewRequest("POST", "/v1/items", nil)
	r.Header.Set("Content-Type", "application/json")
	rd := bytes.NewReader(doc)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(doc)
		r.Body, r.ContentLength = io.NopCloser(rd), int64(len(doc))
		x := newExchange(r)
		x.BodyLimit = l.BodyLimit()
		if d, _ := n.Request(ctx, x); d != nil {
			b.Fatal(d)
		}
		if d, _ := l.Request(ctx, x); d != nil {
			b.Fatal(d)
		}
	}
}

func TestHeaderLineLimit(t *testing.T) {
	l, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		value string
		want  bool
	}{
		{"a long cookie line under the limit", strings.Repeat("a", DefaultMaxHeaderValue-len("Cookie")), false},
		{"one byte over", strings.Repeat("{", DefaultMaxHeaderValue-len("Cookie")+1), true},
		{"30 KB of entities", strings.Repeat("&lt;", 30<<8), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", tt.value)
			d, err := l.Request(context.Background(), pipeline.NewExchange(r, "t", time.Unix(0, 0)))
			if err != nil {
				t.Fatal(err)
			}
			if got := d != nil; got != tt.want {
				t.Fatalf("got denial %+v, want denied=%v", d, tt.want)
			}
			if d != nil && (d.Status != 431 || d.Rules[0] != RuleHeaderLine || d.Location != "header:cookie") {
				t.Errorf("got %d %v at %s, want 431 %s at header:cookie", d.Status, d.Rules, d.Location, RuleHeaderLine)
			}
		})
	}
}
