package validate

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
)

func loadShop(t testing.TB) *openapi.Spec {
	t.Helper()
	s, err := openapi.Load("testdata/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newStage(t testing.TB, cfg Config) *Stage {
	t.Helper()
	s, err := New(cfg, loadShop(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// exchange builds an exchange the way the gateway does, including the match
// result.
func exchange(s *Stage, method, target, ctype, body string) *pipeline.Exchange {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	r.AddCookie(&http.Cookie{Name: "session", Value: "abcd"})
	x := pipeline.NewExchange(r, "req-1", time.Unix(0, 0))
	x.BodyLimit = 1 << 20
	_, params, res := s.spec.Match(method, r.URL.EscapedPath())
	x.PathParams = params
	x.Match = res
	return x
}

func multipartBody(t testing.TB, fields map[string]string, file string) (string, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if file != "" {
		fw, err := w.CreateFormFile("file", "a.bin")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write([]byte(file))
	}
	_ = w.Close()
	return w.FormDataContentType(), b.String()
}

func TestRequest(t *testing.T) {
	mpOK, mpBodyOK := multipartBody(t, map[string]string{"name": "x", "count": "3"}, "\xff\x00bin")
	mpBad, mpBodyBad := multipartBody(t, map[string]string{"count": "9"}, "")
	cases := []struct {
		name           string
		cfg            Config
		method         string
		target         string
		ctype, body    string
		header         map[string]string
		status         int
		errors         []pipeline.FieldError
		rules          []string
		allow          string
		typed, untyped []string
	}{
		{name: "valid get", method: "GET", target: "/items?limit=5&sort=asc&q=hello&code=ABC&filter[min]=2",
			typed: []string{"query:limit", "query:sort"}, untyped: []string{"query:q", "query:code"}},
		{name: "unknown path", method: "GET", target: "/nope", status: 404, rules: []string{RulePath}},
		{name: "wrong method", method: "PUT", target: "/items/1", status: 405, rules: []string{RuleMethod}, allow: "GET, DELETE, HEAD"},
		{name: "wrong type", method: "GET", target: "/items?limit=ten", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/query/limit", Reason: "must be integer"}}, rules: []string{RuleParam}},
		{name: "maximum", method: "GET", target: "/items?limit=101", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/query/limit", Reason: "must be <= 100"}}},
		{name: "enum", method: "GET", target: "/items?sort=up", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/query/sort", Reason: `must be one of "asc", "desc"`}}},
		{name: "pattern", method: "GET", target: "/items?code=abc", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/query/code", Reason: "must match pattern ^[A-Z]{3}$"}}},
		{name: "maxLength", method: "GET", target: "/items?q=" + strings.Repeat("a", 21), status: 400,
			errors: []pipeline.FieldError{{Pointer: "/query/q", Reason: "must be at most 20 characters long"}}},
		{name: "repeated scalar", method: "GET", target: "/items?limit=1&limit=2", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/query/limit", Reason: "must be integer"}}},
		{name: "header format", method: "GET", target: "/items", header: map[string]string{"X-Trace": "nope"}, status: 400,
			errors: []pipeline.FieldError{{Pointer: "/header/X-Trace", Reason: "must be a valid uuid"}}},
		{name: "header typed", method: "GET", target: "/items", header: map[string]string{"X-Trace": "3f1c2b7e-0d5a-4c1e-9a55-0a4f0c3e2d11"},
			typed: []string{"header:x-trace"}},
		{name: "path param", method: "GET", target: "/items/0", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/path/id", Reason: "must be >= 1"}}},
		{name: "path param typed", method: "GET", target: "/items/7", typed: []string{"path:id"}},
		{name: "unknown query refused", cfg: Config{RejectUnknownQuery: true}, method: "GET", target: "/items?limit=1&debug=1&%3Cscript%3E=1", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/query/*", Reason: "is not a declared parameter"}, {Pointer: "/query/debug", Reason: "is not a declared parameter"}},
			rules:  []string{RuleUnknownQuery}},
		{name: "unknown query allowed by default", method: "GET", target: "/items?debug=1"},
		// Issue 11 finding 10: a declared parameter spelt another way.
		{name: "declared parameter in another case", method: "GET", target: "/items?limit=1&LIMIT=100000", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/query/LIMIT", Reason: "spells a declared parameter another way (case, '.' or ' ')"}}},
		{name: "declared parameter in another case alone", method: "GET", target: "/items?Limit=100000", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/query/Limit", Reason: "spells a declared parameter another way (case, '.' or ' ')"}}},
		{name: "json valid", method: "POST", target: "/items", ctype: "application/json", body: `{"name":"pen","count":2,"tags":["a"],"owner":{"email":"a@b"}}`,
			typed: []string{"body:/count", "body:/tags/0"}, untyped: []string{"body:/name", "body:/owner/email"}},
		{name: "json wrong type", method: "POST", target: "/items", ctype: "application/json", body: `{"name":"pen","count":"2"}`, status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body/count", Reason: "must be integer"}}, rules: []string{RuleBody}},
		{name: "json missing required", method: "POST", target: "/items", ctype: "application/json", body: `{"count":1}`, status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body/name", Reason: "is required"}}},
		{name: "json nested enum", method: "POST", target: "/items", ctype: "application/json", body: `{"name":"a","tags":["a","c"]}`, status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body/tags/1", Reason: `must be one of "a", "b"`}}},
		{name: "readOnly property", method: "POST", target: "/items", ctype: "application/json", body: `{"name":"a","id":5}`, status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body/id", Reason: "is read-only and must not be sent"}}, rules: []string{RuleReadOnly}},
		{name: "extra property allowed by loose schema", method: "POST", target: "/items", ctype: "application/json", body: `{"name":"a","admin":true}`},
		{name: "extra property strict", cfg: Config{StrictObjects: true}, method: "POST", target: "/items", ctype: "application/json",
			body: `{"name":"a","admin":true,"owner":{"email":"e","role":"x"}}`, status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body/admin", Reason: "is not an allowed property"}, {Pointer: "/body/owner/role", Reason: "is not an allowed property"}},
			rules:  []string{RuleExtra}},
		{name: "malformed json", method: "POST", target: "/items", ctype: "application/json", body: `{"name":`, status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body", Reason: "is not valid JSON"}}, rules: []string{RuleMalformed}},
		{name: "trailing json", method: "POST", target: "/items", ctype: "application/json", body: `{"name":"a"} {}`, status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body", Reason: "is not valid JSON (data after the value)"}}},
		{name: "invalid utf-8", method: "POST", target: "/items", ctype: "application/json", body: "{\"name\":\"\xff\"}", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body", Reason: "is not valid UTF-8"}}},
		{name: "missing body", method: "POST", target: "/items", ctype: "application/json", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body", Reason: "is required"}}},
		{name: "unsupported content type", method: "POST", target: "/items", ctype: "text/xml", body: `<a/>`, status: 415,
			errors: []pipeline.FieldError{{Pointer: "/header/content-type", Reason: "must be one of application/json, application/x-www-form-urlencoded, multipart/form-data"}},
			rules:  []string{RuleContentType}},
		{name: "body on bodiless operation", method: "DELETE", target: "/items/1", ctype: "application/json", body: `{}`, status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body", Reason: "is not allowed: the operation declares no request body"}}},
		{name: "form valid", method: "POST", target: "/items", ctype: "application/x-www-form-urlencoded", body: "name=pen&count=3&tags=a&tags=b",
			typed: []string{"body:/count", "body:/tags/1"}},
		{name: "form wrong type", method: "POST", target: "/items", ctype: "application/x-www-form-urlencoded", body: "name=pen&count=x", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body/count", Reason: "must be integer"}}},
		{name: "form readOnly", method: "POST", target: "/items", ctype: "application/x-www-form-urlencoded", body: "name=pen&id=3", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body/id", Reason: "is read-only and must not be sent"}}},
		{name: "multipart valid", method: "POST", target: "/items", ctype: mpOK, body: mpBodyOK, typed: []string{"body:/count"}},
		{name: "multipart invalid", method: "POST", target: "/items", ctype: mpBad, body: mpBodyBad, status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body/name", Reason: "is required"}, {Pointer: "/body/count", Reason: "must be <= 5"}}},
		{name: "multipart truncated", method: "POST", target: "/items", ctype: mpOK, body: mpBodyOK[:len(mpBodyOK)-10], status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body", Reason: "is not valid multipart content"}}},
		{name: "multipart without boundary", method: "POST", target: "/items", ctype: "multipart/form-data", body: "x", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/body", Reason: "is not valid multipart content"}}},
		{name: "max errors", cfg: Config{MaxErrors: 2}, method: "GET", target: "/items?limit=x&sort=x&code=x", status: 400,
			errors: []pipeline.FieldError{{Pointer: "/query/limit", Reason: "must be integer"}, {Pointer: "/query/sort", Reason: `must be one of "asc", "desc"`}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStage(t, c.cfg)
			x := exchange(s, c.method, c.target, c.ctype, c.body)
			for k, v := range c.header {
				x.Request.Header.Set(k, v)
			}
			d, err := s.Request(context.Background(), x)
			if err != nil {
				t.Fatal(err)
			}
			if c.status == 0 {
				if d != nil {
					t.Fatalf("got denial %d %v, want none", d.Status, d.Errors)
				}
				for _, loc := range c.typed {
					if !x.Proven.Has(loc) {
						t.Errorf("Proven.Has(%q): got false, want true", loc)
					}
				}
				for _, loc := range c.untyped {
					if x.Proven.Has(loc) {
						t.Errorf("Proven.Has(%q): got true, want false (free text)", loc)
					}
				}
				return
			}
			if d == nil {
				t.Fatalf("got no denial, want %d", c.status)
			}
			if d.Status != c.status {
				t.Errorf("status: got %d, want %d", d.Status, c.status)
			}
			if c.errors != nil && !reflect.DeepEqual(d.Errors, c.errors) {
				t.Errorf("errors: got %v, want %v", d.Errors, c.errors)
			}
			if c.rules != nil && !reflect.DeepEqual(d.Rules, c.rules) {
				t.Errorf("rules: got %v, want %v", d.Rules, c.rules)
			}
			if c.allow != "" && d.Headers.Get("Allow") != c.allow {
				t.Errorf("Allow: got %q, want %q", d.Headers.Get("Allow"), c.allow)
			}
			if x.Proven.Has("query:limit") || x.Proven.Has("body:/count") {
				t.Errorf("a refused request marked values as typed")
			}
		})
	}
}

func TestNoEcho(t *testing.T) {
	s := newStage(t, Config{StrictObjects: true})
	secret := "<script>alert(1)</script>"
	x := exchange(s, "POST", "/items", "application/json", `{"name":"`+secret+`","count":"`+secret+`","`+secret+`":1}`)
	d, _ := s.Request(context.Background(), x)
	if d == nil {
		t.Fatal("got no denial")
	}
	rec := httptest.NewRecorder()
	pipeline.WriteProblem(rec, d, "id")
	if strings.Contains(rec.Body.String(), "alert") {
		t.Errorf("problem echoes the payload: %s", rec.Body)
	}
}

func TestLogMode(t *testing.T) {
	s := newStage(t, Config{Mode: "log"})
	for _, target := range []string{"/nope", "/items?limit=x"} {
		x := exchange(s, "GET", target, "", "")
		d, err := s.Request(context.Background(), x)
		if d != nil || err != nil {
			t.Fatalf("%s: got %v, %v, want the request to pass", target, d, err)
		}
		f := x.Findings()
		if len(f) != 1 || f[0].Stage != ID || f[0].Mode != "detect" || len(f[0].Rules) == 0 {
			t.Errorf("%s: findings: got %+v, want one validate detection", target, f)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want int
	}{
		{"default", Config{}, 0},
		{"log", Config{Mode: "log"}, 0},
		{"bad mode", Config{Mode: "detect"}, 1},
		{"bad max", Config{MaxErrors: 1000}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := len(c.cfg.Validate()); got != c.want {
				t.Errorf("got %d problems, want %d", got, c.want)
			}
		})
	}
	if _, err := New(Config{}, nil); err == nil {
		t.Errorf("New without a spec: got nil error, want one")
	}
}

func TestResponse(t *testing.T) {
	s := newStage(t, Config{ValidateResponses: true})
	cases := []struct {
		name, body string
		deny       bool
	}{
		{"valid", `[{"id":1,"name":"a"}]`, false},
		{"invalid", `[{"id":"x"}]`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := exchange(s, "GET", "/items", "", "")
			resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(c.body)), ContentLength: -1}
			d, err := s.Response(context.Background(), x, resp)
			if err != nil {
				t.Fatal(err)
			}
			if (d != nil) != c.deny {
				t.Fatalf("got denial %v, want %v", d, c.deny)
			}
			if d != nil && d.Status != http.StatusBadGateway {
				t.Errorf("status: got %d, want 502", d.Status)
			}
			if b, _ := io.ReadAll(resp.Body); string(b) != c.body {
				t.Errorf("body after validation: got %q, want %q", b, c.body)
			}
		})
	}
}

func FuzzValidateJSON(f *testing.F) {
	s := newStage(f, Config{StrictObjects: true})
	for _, seed := range []string{`{"name":"a"}`, `{"name":"a","tags":["a","b"],"owner":{"email":"x"}}`, `{`, `[]`, "\xff", `{"id":1}`, `null`, `{"name":{"a":[1,2,{"b":null}]}}`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		x := exchange(s, "POST", "/items", "application/json", body)
		d, err := s.Request(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		if d != nil && d.Status != 400 {
			t.Fatalf("got status %d, want 400 or pass", d.Status)
		}
	})
}

func FuzzMultipart(f *testing.F) {
	ct, body := multipartBody(f, map[string]string{"name": "x", "count": "3"}, "data")
	boundary := strings.TrimPrefix(ct, "multipart/form-data; boundary=")
	f.Add(boundary, body)
	f.Add(boundary, body[:len(body)/2])
	f.Add("b", "--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--b--\r\n")
	f.Fuzz(func(t *testing.T, boundary, body string) {
		s := newStage(t, Config{})
		x := exchange(s, "POST", "/items", "multipart/form-data; boundary=\""+strings.ReplaceAll(boundary, `"`, "")+"\"", body)
		d, err := s.Request(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		if d != nil && d.Status != 400 && d.Status != 415 {
			t.Fatalf("got status %d, want 400/415 or pass", d.Status)
		}
	})
}
