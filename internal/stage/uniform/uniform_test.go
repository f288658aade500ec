package uniform_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/stagetest"
	"github.com/portcullis/portcullis/internal/stage/uniform"
)

var requestID = regexp.MustCompile(`"request_id":"[^"]*"`)

// TestLabLoginNoLongerRevealsAccounts puts the stage in front of the
// scanner lab, whose login answers 404 "no such user" for an unknown user
// and 401 "wrong password" for a known one.
func TestLabLoginNoLongerRevealsAccounts(t *testing.T) {
	api := config.API{}
	api.Stages.Set(&uniform.Config{Operations: map[string]uniform.Operation{"POST /login": {Kind: uniform.KindLogin}}})
	e := stagetest.New(t, api, demo.NewAPI(demo.APIOptions{Vulnerable: true}))
	login := func(user, pass string) (int, string) {
		resp, body := e.Do(t, "POST", "/login", http.Header{"Content-Type": {"application/json"}}, `{"username":"`+user+`","password":"`+pass+`"}`)
		return resp.StatusCode, requestID.ReplaceAllString(string(body), "")
	}
	// Straight at the lab the two failures differ.
	direct := func(user string) int {
		resp, err := http.Post(e.Upstream+"/login", "application/json", strings.NewReader(`{"username":"`+user+`","password":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if a, b := direct("alice"), direct("nobody"); a == b {
		t.Fatalf("the lab itself answers %d and %d: the test proves nothing", a, b)
	}
	s1, b1 := login("alice", "wrong")
	s2, b2 := login("nobody-here", "wrong")
	if s1 != 401 || s2 != 401 || b1 != b2 {
		t.Fatalf("known user: %d %s\nunknown user: %d %s\nwant the same 401", s1, b1, s2, b2)
	}
	if strings.Contains(b1, "stage") || strings.Contains(b1, "password") || strings.Contains(b1, "user") {
		t.Errorf("the uniform answer says too much: %s", b1)
	}
	if s, b := login("alice", "alice-password"); s != 200 || !strings.Contains(b, `"token"`) {
		t.Fatalf("a good login: %d %s", s, b)
	}
	var n int
	for _, ev := range e.Events() {
		if ev.Stage == "uniform" {
			n++
			if !strings.Contains(ev.Reason, "upstream status") || ev.Severity != "info" {
				t.Errorf("event: %+v", ev)
			}
		}
		if ev.Type == "denial" {
			t.Errorf("a uniform answer became a denial event: %+v", ev)
		}
	}
	if n != 2 {
		t.Errorf("%d uniform events, want 2", n)
	}
}

func TestResetAndRegistration(t *testing.T) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/reset" && strings.Contains(r.URL.RawQuery, "known"):
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"sent_to":"a***@example.com"}`))
		case r.URL.Path == "/reset":
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"error":"no account with this email"}`))
		case strings.Contains(r.URL.RawQuery, "taken"):
			w.WriteHeader(409)
			_, _ = w.Write([]byte(`{"error":"email already registered"}`))
		case strings.Contains(r.URL.RawQuery, "bad"):
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"email is not an email"}`))
		default:
			w.WriteHeader(201)
			_, _ = w.Write([]byte(`{"id":42}`))
		}
	})
	api := config.API{}
	api.Stages.Set(&uniform.Config{Operations: map[string]uniform.Operation{
		"POST /reset":    {Kind: uniform.KindReset},
		"POST /register": {Kind: uniform.KindRegistration, Message: "welcome: confirm your address"},
	}})
	e := stagetest.New(t, api, up)
	answer := func(path string) (int, string) {
		resp, body := e.Do(t, "POST", path, nil, "{}")
		return resp.StatusCode, requestID.ReplaceAllString(string(body), "")
	}
	s1, b1 := answer("/reset?known")
	s2, b2 := answer("/reset?unknown")
	if s1 != 202 || s2 != 202 || b1 != b2 || !strings.Contains(b1, "if the account exists") {
		t.Fatalf("reset: %d %s / %d %s", s1, b1, s2, b2)
	}
	s3, b3 := answer("/register?new")
	s4, b4 := answer("/register?taken")
	if s3 != 202 || s4 != 202 || b3 != b4 || !strings.Contains(b3, "welcome") {
		t.Fatalf("registration: %d %s / %d %s", s3, b3, s4, b4)
	}
	if s, b := answer("/register?bad"); s != 400 || !strings.Contains(b, "not an email") {
		t.Fatalf("a malformed request says nothing about accounts and passes: %d %s", s, b)
	}
}

// TestMinimumDuration uses a fake clock and sleeper: the stage waits for
// exactly what is left of the minimum, and not at all when the upstream
// already took longer.
func TestMinimumDuration(t *testing.T) {
	start := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	var now time.Time
	var slept []time.Duration
	s, err := uniform.New(uniform.Config{MinDuration: 500 * time.Millisecond, Operations: map[string]uniform.Operation{
		"POST /login":  {Kind: uniform.KindLogin},
		"POST /signup": {Kind: uniform.KindRegistration, MinDuration: 2 * time.Second},
	}}, func() time.Time { return now }, func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil })
	if err != nil {
		t.Fatal(err)
	}
	spec, err := openapi.FromOperations([]string{"POST /login", "POST /signup", "GET /other"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path    string
		elapsed time.Duration
		status  int
		want    []time.Duration
		reply   int
	}{
		{"/login", 120 * time.Millisecond, 404, []time.Duration{380 * time.Millisecond}, 401},
		{"/login", 120 * time.Millisecond, 200, []time.Duration{380 * time.Millisecond}, 0},
		{"/login", 900 * time.Millisecond, 401, nil, 401},
		{"/signup", time.Second, 409, []time.Duration{time.Second}, 202},
		{"/other", 0, 404, nil, 0},
	}
	for _, c := range cases {
		slept = nil
		method := "POST"
		if c.path == "/other" {
			method = "GET"
		}
		r := httptest.NewRequest(method, c.path, nil)
		x := pipeline.NewExchange(r, "rid", start)
		op, _, res := spec.Match(method, c.path)
		x.Match = res
		if op != nil {
			x.Operation = op.Key()
		}
		now = start.Add(c.elapsed)
		d, err := s.Response(context.Background(), x, &http.Response{StatusCode: c.status, Header: http.Header{}, Request: r})
		if err != nil {
			t.Fatal(err)
		}
		if len(slept) != len(c.want) || len(slept) == 1 && slept[0] != c.want[0] {
			t.Errorf("%s after %v: slept %v, want %v", c.path, c.elapsed, slept, c.want)
		}
		got := 0
		if d != nil {
			got = d.Reply.Status
			var doc map[string]any
			if err := json.Unmarshal(d.Reply.Body, &doc); err != nil || doc["request_id"] != "rid" {
				t.Errorf("reply body %s", d.Reply.Body)
			}
		}
		if got != c.reply {
			t.Errorf("%s %d: replied %d, want %d", c.path, c.status, got, c.reply)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	yaml := "apis:\n  - name: a\n    upstream: {targets: [\"http://127.0.0.1:1\"]}\n    uniform:\n      min_duration: 2m\n      operations:\n        \"POST /login\": {kind: signin, status: 99}\n"
	_, err := config.Parse("p.yaml", []byte(yaml))
	for _, want := range []string{"min_duration", "want login, reset or registration", "want an HTTP status from 200 to 599"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}

// TestLabLoginAnswered200 puts the stage in front of the lab's second
// login, which answers 200 to every attempt with {"ok": false} and a
// message that tells an unknown user from a wrong password: the failure
// member marks those answers as failures.
func TestLabLoginAnswered200(t *testing.T) {
	api := config.API{}
	api.Stages.Set(&uniform.Config{Operations: map[string]uniform.Operation{"POST /v2/login": {
		Kind: uniform.KindLogin, Status: 200, Message: "the user name or the password is wrong",
		Failure: &uniform.Failure{Pointer: "/ok", Equals: "false"},
	}}})
	e := stagetest.New(t, api, demo.NewAPI(demo.APIOptions{Vulnerable: true}))
	login := func(user, pass string) (int, string) {
		resp, body := e.Do(t, "POST", "/v2/login", http.Header{"Content-Type": {"application/json"}}, `{"username":"`+user+`","password":"`+pass+`"}`)
		return resp.StatusCode, requestID.ReplaceAllString(string(body), "")
	}
	direct := func(user string) string {
		resp, err := http.Post(e.Upstream+"/v2/login", "application/json", strings.NewReader(`{"username":"`+user+`","password":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return b.String()
	}
	if a, b := direct("alice"), direct("nobody"); a == b {
		t.Fatalf("the lab itself answers %s to both: the test proves nothing", a)
	}
	s1, b1 := login("alice", "wrong")
	s2, b2 := login("nobody-here", "wrong")
	if s1 != 200 || s2 != 200 || b1 != b2 || b1 != `{"message":"the user name or the password is wrong","ok":false}` {
		t.Fatalf("known user: %d %s\nunknown user: %d %s\nwant the same 200", s1, b1, s2, b2)
	}
	if s, b := login("alice", "alice-password"); s != 200 || !strings.Contains(b, `"token"`) || !strings.Contains(b, `"ok":true`) {
		t.Fatalf("a good login: %d %s", s, b)
	}
}

func TestFailureMember(t *testing.T) {
	for _, tt := range []struct {
		body, pointer, equals string
		uniform               bool
	}{
		{`{"ok":false,"message":"no such user"}`, "/ok", "false", true},
		{`{"ok":true,"token":"t"}`, "/ok", "false", false},
		{`{"result":{"status":"failed"}}`, "/result/status", "failed", true},
		{`{"result":{"status":"ok"}}`, "/result/status", "failed", false},
		{`{"errors":[{"code":0}]}`, "/errors/0/code", "0", true},
		{`{"a/b":null}`, "/a~1b", "null", true},
		{`not json`, "/ok", "false", false},
		{`{"ok":"false"}`, "/ok", "false", true},
		{`{}`, "/ok", "false", false},
	} {
		up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(tt.body))
		})
		api := config.API{}
		api.Stages.Set(&uniform.Config{Operations: map[string]uniform.Operation{"POST /login": {
			Kind: uniform.KindLogin, Failure: &uniform.Failure{Pointer: tt.pointer, Equals: tt.equals},
		}}})
		e := stagetest.New(t, api, up)
		resp, body := e.Do(t, "POST", "/login", http.Header{"Content-Type": {"application/json"}}, `{}`)
		if got := resp.StatusCode == 401; got != tt.uniform {
			t.Errorf("%s at %s = %s: answered %d %s, want uniform %v", tt.body, tt.pointer, tt.equals, resp.StatusCode, body, tt.uniform)
		}
		if !tt.uniform && string(body) != tt.body {
			t.Errorf("%s: a success reached the client as %q", tt.body, body)
		}
	}
}

func TestFailureValidate(t *testing.T) {
	for _, tt := range []struct {
		op   uniform.Operation
		want string
	}{
		{uniform.Operation{Kind: uniform.KindReset, Failure: &uniform.Failure{Pointer: "/ok", Equals: "false"}}, "only a login"},
		{uniform.Operation{Kind: uniform.KindLogin, Failure: &uniform.Failure{Pointer: "ok", Equals: "false"}}, "JSON pointer"},
		{uniform.Operation{Kind: uniform.KindLogin, Failure: &uniform.Failure{Pointer: "/ok"}}, "equals"},
		{uniform.Operation{Kind: uniform.KindLogin, Failure: &uniform.Failure{Pointer: "/ok", Equals: "false", MessagePointer: "/ok"}}, "message_pointer"},
	} {
		errs := uniform.Config{Operations: map[string]uniform.Operation{"POST /login": tt.op}}.Validate()
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) {
			t.Errorf("%+v: got %v, want one error about %q", tt.op, errs, tt.want)
		}
	}
}
