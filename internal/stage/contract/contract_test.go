package contract_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/contract"
	"github.com/portcullis/portcullis/internal/stage/stagetest"
)

// leakyUser is what a careless upstream sends: declared members plus a
// password hash, an admin flag and a nested internal note.
const leakyUser = `{"id":"u1","name":"Alice","email":"alice@example.com","password_hash":"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW","is_admin":true,"address":{"city":"Paris","internal_note":"vip"}}`

func upstream(routes map[string]func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := routes[r.URL.Path]; ok {
			h(w, r)
			return
		}
		http.NotFound(w, r)
	})
}

func jsonAnswer(status int, ct, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func env(t *testing.T, c contract.Config, routes map[string]func(http.ResponseWriter, *http.Request)) *stagetest.Env {
	t.Helper()
	api := config.API{OpenAPI: filepath.Join("testdata", "users.yaml")}
	api.Stages.Set(&c)
	return stagetest.New(t, api, upstream(routes))
}

func findings(e *stagetest.Env, rule string) []events.Event {
	var out []events.Event
	for _, ev := range e.Events() {
		for _, r := range ev.Rules {
			if r == rule {
				out = append(out, ev)
			}
		}
	}
	return out
}

func TestFilterRemovesUndeclaredProperties(t *testing.T) {
	list := `{"items":[` + leakyUser + `,` + leakyUser + `],"next":null,"debug":{"sql":"select *"}}`
	e := env(t, contract.Config{}, map[string]func(http.ResponseWriter, *http.Request){
		"/users/u1":    jsonAnswer(200, "application/json", leakyUser),
		"/users":       jsonAnswer(200, "application/json; charset=utf-8", list),
		"/accounts/u1": jsonAnswer(200, "application/json", `{"id":"u1","name":"A","balance":3,"ssn":"078-05-1120"}`),
		"/settings":    jsonAnswer(200, "application/json", `{"theme":"dark","anything":{"goes":1}}`),
	})
	cases := []struct {
		path, want string
		removed    int
	}{
		{"/users/u1", `{"id":"u1","name":"Alice","email":"alice@example.com","address":{"city":"Paris"}}`, 3},
		{"/users", `{"items":[{"id":"u1","name":"Alice","email":"alice@example.com","address":{"city":"Paris"}},{"id":"u1","name":"Alice","email":"alice@example.com","address":{"city":"Paris"}}],"next":null}`, 7},
		{"/accounts/u1", `{"id":"u1","name":"A","balance":3}`, 1},
		{"/settings", `{"theme":"dark","anything":{"goes":1}}`, 0},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			before := len(findings(e, contract.RuleUndeclaredProperty))
			resp, body := e.Do(t, "GET", c.path, nil, "")
			if resp.StatusCode != 200 || string(body) != c.want {
				t.Fatalf("got %d %s\nwant %s", resp.StatusCode, body, c.want)
			}
			if resp.ContentLength != int64(len(body)) {
				t.Errorf("Content-Length %d for %d bytes", resp.ContentLength, len(body))
			}
			fs := findings(e, contract.RuleUndeclaredProperty)
			if got := len(fs) - before; (got == 1) != (c.removed > 0) {
				t.Fatalf("got %d new findings, want one when properties are removed", got)
			}
			if c.removed > 0 {
				f := fs[len(fs)-1]
				if f.Mode != "filter" || !strings.HasPrefix(f.Reason, strconv.Itoa(c.removed)+" undeclared properties removed") {
					t.Errorf("finding: %+v", f)
				}
			}
		})
	}
	all := e.Everything(t)
	for _, leaked := range []string{"R9h/cIPz0gi", "vip", "select *", "078-05-1120"} {
		if strings.Contains(all, leaked) {
			t.Errorf("%q reached an event or a log", leaked)
		}
	}
	if !strings.Contains(all, "/password_hash") || !strings.Contains(all, "/items/1/is_admin") {
		t.Errorf("the events do not name the removed properties:\n%s", all)
	}
	if e.Hits() != len(cases) {
		t.Errorf("the upstream got %d requests, want %d", e.Hits(), len(cases))
	}
}

func TestBlockAndLogModes(t *testing.T) {
	routes := map[string]func(http.ResponseWriter, *http.Request){
		"/users/u1": jsonAnswer(200, "application/json", leakyUser),
		"/users/u2": jsonAnswer(200, "application/json", `{"id":"u2","name":7}`),
		"/users/u3": jsonAnswer(200, "application/json", `{"id":"u3","name":"ok"}`),
	}
	t.Run("block", func(t *testing.T) {
		e := env(t, contract.Config{Mode: contract.ModeBlock}, routes)
		for _, p := range []string{"/users/u1", "/users/u2"} {
			resp, body := e.Do(t, "GET", p, nil, "")
			if resp.StatusCode != 502 || resp.Header.Get("Content-Type") != "application/problem+json" || bytes.Contains(body, []byte("Alice")) {
				t.Fatalf("%s: got %d %s, want a 502 problem", p, resp.StatusCode, body)
			}
		}
		if resp, body := e.Do(t, "GET", "/users/u3", nil, ""); resp.StatusCode != 200 || string(body) != `{"id":"u3","name":"ok"}` {
			t.Fatalf("a valid answer: got %d %s", resp.StatusCode, body)
		}
		if len(findings(e, contract.RuleUndeclaredProperty)) != 1 || len(findings(e, contract.RuleSchema)) != 1 {
			t.Errorf("events: %+v", e.Events())
		}
	})
	t.Run("log", func(t *testing.T) {
		e := env(t, contract.Config{Mode: contract.ModeLog}, routes)
		for _, p := range []string{"/users/u1", "/users/u2"} {
			resp, body := e.Do(t, "GET", p, nil, "")
			if resp.StatusCode != 200 || string(body) != routesBody(p) {
				t.Fatalf("%s: got %d %s, want the answer unchanged", p, resp.StatusCode, body)
			}
		}
		if len(findings(e, contract.RuleUndeclaredProperty)) != 1 || len(findings(e, contract.RuleSchema)) != 1 {
			t.Errorf("events: %+v", e.Events())
		}
	})
	t.Run("operation off", func(t *testing.T) {
		e := env(t, contract.Config{Mode: contract.ModeBlock, Operations: map[string]contract.Operation{"GET /users/{id}": {Mode: contract.ModeOff}}}, routes)
		if resp, body := e.Do(t, "GET", "/users/u1", nil, ""); resp.StatusCode != 200 || string(body) != leakyUser {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
	})
	t.Run("open objects", func(t *testing.T) {
		e := env(t, contract.Config{OpenObjects: true}, routes)
		if _, body := e.Do(t, "GET", "/users/u1", nil, ""); string(body) != leakyUser {
			t.Fatalf("got %s", body)
		}
	})
}

func routesBody(p string) string {
	if p == "/users/u1" {
		return leakyUser
	}
	return `{"id":"u2","name":7}`
}

func TestUndeclaredStatusAndContentType(t *testing.T) {
	routes := map[string]func(http.ResponseWriter, *http.Request){
		"/users/boom":  jsonAnswer(500, "application/json", `{"error":"boom"}`),
		"/users/html":  jsonAnswer(200, "text/html", `<html>hi</html>`),
		"/users/gone":  jsonAnswer(404, "application/problem+json", `{"title":"Not Found"}`),
		"/logout":      jsonAnswer(204, "", ""),
		"/users/nobdy": jsonAnswer(200, "", `{"id":"x","name":"y"}`),
	}
	e := env(t, contract.Config{}, routes)
	for p, want := range map[string]int{"/users/boom": 500, "/users/html": 200, "/users/gone": 404, "/users/nobdy": 200} {
		if resp, _ := e.Do(t, "GET", p, nil, ""); resp.StatusCode != want {
			t.Errorf("%s: got %d, want %d (log mode passes)", p, resp.StatusCode, want)
		}
	}
	if resp, _ := e.Do(t, "POST", "/logout", nil, ""); resp.StatusCode != 204 {
		t.Errorf("logout: %d", resp.StatusCode)
	}
	if n := len(findings(e, contract.RuleUndeclaredStatus)); n != 1 {
		t.Errorf("undeclared status: %d findings, want 1", n)
	}
	// text/html and a missing content type on a JSON operation.
	if n := len(findings(e, contract.RuleUndeclaredContentType)); n != 2 {
		t.Errorf("undeclared content type: %d findings, want 2: %+v", n, e.Events())
	}
	blk := env(t, contract.Config{Undeclared: "block"}, routes)
	if resp, body := blk.Do(t, "GET", "/users/boom", nil, ""); resp.StatusCode != 502 || bytes.Contains(body, []byte("boom")) {
		t.Errorf("undeclared: block: got %d %s", resp.StatusCode, body)
	}
}

// TestLargeGzipAndStreamedAnswers: gzip answers are decoded and filtered;
// answers over the cap pass unchanged (or are refused with unchecked:
// block), counted; a stream is never buffered.
func TestLargeGzipAndStreamedAnswers(t *testing.T) {
	big := `{"id":"u9","name":"` + strings.Repeat("n", 4000) + `","password":"x"}`
	release := make(chan struct{})
	routes := map[string]func(http.ResponseWriter, *http.Request){
		"/users/big": jsonAnswer(200, "application/json", big),
		"/users/gz": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			_, _ = io.WriteString(zw, leakyUser)
			_ = zw.Close()
		},
		"/events": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: first\n\n")
			w.(http.Flusher).Flush()
			<-release
			_, _ = io.WriteString(w, "data: second\n\n")
		},
	}
	e := env(t, contract.Config{MaxBodyBytes: 1024}, routes)
	if resp, body := e.Do(t, "GET", "/users/big", nil, ""); resp.StatusCode != 200 || string(body) != big {
		t.Fatalf("big: got %d, %d bytes; want the answer unchanged", resp.StatusCode, len(body))
	}
	if n := len(findings(e, contract.RuleUnchecked)); n != 1 {
		t.Errorf("unchecked: %d findings, want 1", n)
	}
	req, _ := http.NewRequest("GET", e.URL+"/users/gz", nil)
	req.Header.Set("Accept-Encoding", "gzip") // the client asks for gzip itself: no transparent decoding
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var u map[string]any
	if resp.Header.Get("Content-Encoding") != "" || json.Unmarshal(body, &u) != nil || u["password_hash"] != nil || u["name"] != "Alice" {
		t.Fatalf("gzip: got %q encoding %q", body, resp.Header.Get("Content-Encoding"))
	}

	resp, err = http.Get(e.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("data: first\n\n"))
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "data: first\n\n" {
		t.Fatalf("the first event did not arrive before the stream ended: %q %v", buf, err)
	}
	close(release)
	rest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(rest) != "data: second\n\n" {
		t.Fatalf("rest of the stream: %q", rest)
	}

	blk := env(t, contract.Config{MaxBodyBytes: 1024, Unchecked: "block"}, routes)
	if resp, _ := blk.Do(t, "GET", "/users/big", nil, ""); resp.StatusCode != 502 {
		t.Errorf("unchecked: block: got %d, want 502", resp.StatusCode)
	}
}

func TestConfigErrors(t *testing.T) {
	yaml := "apis:\n  - name: a\n    upstream: {targets: [\"http://127.0.0.1:1\"]}\n    openapi: x.yaml\n    contract:\n      mode: strip\n      operations:\n        \"GET /x\": {mode: nope}\n"
	_, err := config.Parse("portcullis.yaml", []byte(yaml))
	if err == nil || !strings.Contains(err.Error(), `6:13`) || !strings.Contains(err.Error(), `want filter, block or log`) ||
		!strings.Contains(err.Error(), "want filter, block, log or off") {
		t.Fatalf("got %v", err)
	}
	if _, err := contract.Module.Build(&pipelineBuild, nil, &contract.Config{}); err == nil || !strings.Contains(err.Error(), "requires apis[].openapi") {
		t.Fatalf("without a description: got %v", err)
	}
}

var pipelineBuild = pipeline.Build{API: "a"}
