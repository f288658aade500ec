package waf

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
)

var (
	defaultOnce  sync.Once
	defaultStage *Stage
)

// sharedStage returns one default stage per test binary: compiling the CRS
// is the slow part.
func sharedStage(t testing.TB) *Stage {
	defaultOnce.Do(func() {
		s, err := New(Config{}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defaultStage = s
	})
	return defaultStage
}

func exchange(r *http.Request) *pipeline.Exchange {
	x := pipeline.NewExchange(r, "req-1", time.Unix(0, 0))
	x.BodyLimit = 1 << 20
	return x
}

func jsonRequest(body string) *http.Request {
	r := httptest.NewRequest("POST", "/items", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func TestRequestBlocks(t *testing.T) {
	s := sharedStage(t)
	tests := []struct {
		name     string
		req      *http.Request
		rule     string
		location string
	}{
		{"sqli in query", httptest.NewRequest("GET", "/search?q=1%27+OR+%271%27%3D%271", nil), RuleSQLi, "query:q"},
		{"xss deep in json", jsonRequest(`{"items":[{"name":"<script>alert(1)</script>"}]}`), RuleXSS, "body:/items/0/name"},
		{"nosql operator key", jsonRequest(`{"user":"a","password":{"$ne":null}}`), RuleNoSQL, "body:/password/$ne"},
		{"nosql bracket name", httptest.NewRequest("GET", "/login?user=a&password[$ne]=x", nil), RuleNoSQL, "query:password[$ne]"},
		{"double-encoded traversal", httptest.NewRequest("GET", "/files?name=%252e%252e%252fetc%252fpasswd", nil), "930110", "query:name"},
		{"base64 xss", httptest.NewRequest("GET", "/p?d=PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg", nil), RuleXSS, "query:d"},
		{"prototype in a json key path", jsonRequest(`{"constructor":{"prototype":{"isAdmin":true}}}`), RulePrototype, "body:/constructor/prototype"},
		{"prototype in a query name", httptest.NewRequest("GET", "/p?__proto__[isAdmin]=1", nil), RulePrototype, "query:__proto__[isAdmin]"},
		{"node runtime in a cookie", func() *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", "s=process.env")
			return r
		}(), RuleNode, "cookie:s"},
		{"script file name in a header", func() *http.Request {
			r := httptest.NewRequest("PUT", "/files", strings.NewReader("x"))
			r.Header.Set("Content-Type", "application/octet-stream")
			r.Header.Set("X-File-Name", "shell.php")
			return r
		}(), RuleUpload, "header:x-file-name"},
		{"header injection", func() *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("X-Note", "; cat /etc/passwd")
			return r
		}(), RuleCmd, "header:x-note"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := s.Request(context.Background(), exchange(tt.req))
			if err != nil {
				t.Fatal(err)
			}
			if d == nil {
				t.Fatal("got no denial, want one")
			}
			if d.Status != http.StatusForbidden || d.Stage != ID {
				t.Errorf("got status %d stage %q, want 403 waf", d.Status, d.Stage)
			}
			found := false
			for _, r := range d.Rules {
				found = found || r == tt.rule
			}
			if !found {
				t.Errorf("got rules %v, want %s among them", d.Rules, tt.rule)
			}
			if d.Location != tt.location {
				t.Errorf("got location %q, want %q", d.Location, tt.location)
			}
			if d.Score < 1 || d.Excerpt == "" {
				t.Errorf("got score %d excerpt %q, want both for the event", d.Score, d.Excerpt)
			}
		})
	}
}

func TestRequestPasses(t *testing.T) {
	s := sharedStage(t)
	for _, r := range []*http.Request{
		httptest.NewRequest("GET", "/search?q=O%27Brien&page=2", nil),
		jsonRequest(`{"comment":"please select the best option","tags":["a","b"],"n":[1,[2,[3]]]}`),
		httptest.NewRequest("GET", "/users/550e8400-e29b-41d4-a716-446655440000", nil),
	} {
		t.Run(r.URL.String(), func(t *testing.T) {
			d, err := s.Request(context.Background(), exchange(r))
			if err != nil || d != nil {
				t.Errorf("got %v, %v, want no denial", d, err)
			}
		})
	}
}

func TestUnparseableBodies(t *testing.T) {
	s := sharedStage(t)
	mp := "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue" // truncated
	tests := []struct{ name, ct, body string }{
		{"malformed json", "application/json", `{"a":`},
		{"invalid utf-8 json", "application/json", "{\"a\":\"\xff\"}"},
		{"truncated multipart", "multipart/form-data; boundary=b", mp},
		{"multipart without boundary", "multipart/form-data", mp},
		{"malformed xml", "application/xml", `<a><b></a>`},
		{"invalid utf-8 form", "application/x-www-form-urlencoded", "a=\xff\xfe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.ct)
			d, err := s.Request(context.Background(), exchange(r))
			if err != nil {
				t.Fatal(err)
			}
			if d == nil || d.Status != http.StatusBadRequest || d.Rules[0] != RuleBodyParse {
				t.Errorf("got %+v, want a 400 %s denial", d, RuleBodyParse)
			}
		})
	}
}

func TestXXEBody(t *testing.T) {
	s := sharedStage(t)
	r := httptest.NewRequest("POST", "/", strings.NewReader(`<!DOCTYPE a [<!ENTITY b SYSTEM "file:///etc/passwd">]><a>&b;</a>`))
	r.Header.Set("Content-Type", "application/xml")
	d, _ := s.Request(context.Background(), exchange(r))
	if d == nil || !strings.Contains(strings.Join(d.Rules, ","), RuleXXE) {
		t.Errorf("got %+v, want a %s denial", d, RuleXXE)
	}
}

func TestDetectModeAddsFinding(t *testing.T) {
	s, err := New(Config{Mode: ModeDetect}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := exchange(httptest.NewRequest("GET", "/search?q=%3Cscript%3Ealert(1)%3C/script%3E", nil))
	d, err := s.Request(context.Background(), x)
	if d != nil || err != nil {
		t.Fatalf("got %v, %v, want no denial in detect mode", d, err)
	}
	f := x.Findings()
	if len(f) != 1 || f[0].Mode != ModeDetect || f[0].Location != "query:q" || f[0].Score < 5 || f[0].Excerpt == "" {
		t.Errorf("got findings %+v, want one detect finding at query:q with a score and excerpt", f)
	}
}

func TestTypedValuesSkipped(t *testing.T) {
	s := sharedStage(t)
	x := exchange(jsonRequest(`{"id":"1' OR '1'='1"}`))
	x.Proven.Add("body:/id")
	if d, _ := s.Request(context.Background(), x); d != nil {
		t.Errorf("got %+v, want a typed value to be skipped", d)
	}
}

func TestExclusions(t *testing.T) {
	attack := "/search?q=%3Cscript%3Ealert(1)%3C/script%3E"
	tests := []struct {
		name    string
		ex      []Exclusion
		path    string
		blocked bool
	}{
		{"none", nil, attack, true},
		{"target skipped", []Exclusion{{Target: "query:q"}}, attack, false},
		{"target on other op", []Exclusion{{Target: "query:q", Operation: "GET /other"}}, attack, true},
		{"target on this op", []Exclusion{{Target: "query:q", Operation: "GET /search"}}, attack, false},
		{"glob target", []Exclusion{{Target: "query:*"}}, attack, false},
		{"one rule only", []Exclusion{{Rule: RuleXSS, Target: "query:q"}}, attack, true},
		{"tag on target", []Exclusion{{Tags: []string{"attack-xss"}, Target: "query:q"}}, attack, false},
		{"api-wide tag", []Exclusion{{Tags: []string{"attack-xss"}}, {Rule: RuleXSS}}, attack, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Config{Exclusions: tt.ex}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			x := exchange(httptest.NewRequest("GET", tt.path, nil))
			x.Operation = "GET /search" // as the gateway's operation matcher names it
			d, _ := s.Request(context.Background(), x)
			if (d != nil) != tt.blocked {
				t.Errorf("got denial %+v, want blocked=%v", d, tt.blocked)
			}
		})
	}
}

func TestCustomRules(t *testing.T) {
	dir := t.TempDir()
	rule := `SecRule ARGS:debug "@streq on" "id:1000001,phase:1,deny,status:403,log,msg:'debug switch'"` + "\n" +
		`SecRule ARGS:word "@contains 禁止" "id:1000002,phase:1,deny,status:403,log,msg:'a word of another script'"` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "custom.conf"), []byte(rule), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{CustomRules: "custom.conf"}, Options{BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// With custom rules every value reaches Coraza, even harmless ones.
	d, _ := s.Request(context.Background(), exchange(httptest.NewRequest("GET", "/?debug=on", nil)))
	if d == nil || !strings.Contains(strings.Join(d.Rules, ","), "1000001") {
		t.Errorf("got %+v, want a denial by rule 1000001", d)
	}
	// Custom rules read values as sent, other scripts too (the CRS gets
	// them with the characters it reads as low bytes neutral).
	d, _ = s.Request(context.Background(), exchange(httptest.NewRequest("GET", "/?word=%E7%A6%81%E6%AD%A2", nil)))
	if d == nil || !strings.Contains(strings.Join(d.Rules, ","), "1000002") {
		t.Errorf("got %+v, want a denial by rule 1000002", d)
	}
	if _, err := New(Config{CustomRules: "missing.conf"}, Options{BaseDir: dir}); err == nil {
		t.Error("got nil error for a missing custom rules file")
	}
}

func TestExcerptRedactsSecrets(t *testing.T) {
	s := sharedStage(t)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "session=%3Cscript%3Ealert(1)%3C/script%3E")
	d, _ := s.Request(context.Background(), exchange(r))
	if d == nil || strings.Contains(d.Detail, "script") || d.Location != "cookie:session" {
		t.Errorf("got %+v, want a denial at cookie:session without the cookie value", d)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"ok", Config{Mode: "detect", ParanoiaLevel: 2, Exclusions: []Exclusion{{Rule: "942100", Target: "query:q"}}}, ""},
		{"bad mode", Config{Mode: "log"}, "mode"},
		{"bad paranoia", Config{ParanoiaLevel: 5}, "paranoia_level"},
		{"bad status", Config{Status: 200}, "status"},
		{"empty exclusion", Config{Exclusions: []Exclusion{{Operation: "GET /x"}}}, "exclusions[0]"},
		{"bad rule", Config{Exclusions: []Exclusion{{Rule: "nope"}}}, "exclusions[0].rule"},
		{"bad target", Config{Exclusions: []Exclusion{{Target: "body:comment"}}}, "exclusions[0].target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := tt.c.Validate()
			got := ""
			if len(errs) > 0 {
				got = errs[0].Path
			}
			if got != tt.want {
				t.Errorf("got %q (%v), want %q", got, errs, tt.want)
			}
		})
	}
}

// FuzzInspectBody checks that no body, whatever its declared type, makes
// the stage fail or panic: it either passes, blocks, or answers 400.
func FuzzInspectBody(f *testing.F) {
	for _, s := range []string{`{"a":[1,"<b>"]}`, `<a x="1">t</a>`, "a=1&b=%zz", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b--\r\n", "\xff"} {
		for ct := byte(0); ct < 4; ct++ {
			f.Add(ct, []byte(s))
		}
	}
	types := []string{"application/json", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b"}
	s := sharedStage(f)
	f.Fuzz(func(t *testing.T, ct byte, body []byte) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", types[int(ct)%len(types)])
		if _, err := s.Request(context.Background(), exchange(r)); err != nil {
			t.Fatalf("got error %v", err)
		}
	})
}
