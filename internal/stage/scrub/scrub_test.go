package scrub_test

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/stage/scrub"
	"github.com/portcullis/portcullis/internal/stage/stagetest"
)

// realErrors asks real runtimes for the error output an unguarded
// handler sends: a Go panic, a Python traceback with an SQLite error, and
// a Node.js stack.
func realErrors(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	run := func(name string, cmd *exec.Cmd) {
		b, _ := cmd.CombinedOutput() // they fail on purpose
		if len(b) == 0 {
			t.Fatalf("%s printed nothing", name)
		}
		out[name] = string(b)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {\n\tvar m map[string]int\n\tm[\"boom\"] = 1\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("go panic", exec.Command("go", "run", src))
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if p, err := exec.LookPath(py); err == nil {
			run("python sqlite", exec.Command(p, "-c", "import sqlite3\nsqlite3.connect(':memory:').execute(\"select * from t where name = 'O'Reilly'\")"))
			run("python traceback", exec.Command(p, "-c", "def handler(req):\n    return req['user']\nhandler({})"))
			break
		}
	}
	if p, err := exec.LookPath("node"); err == nil {
		run("node stack", exec.Command(p, "-e", "function handler(){ throw new TypeError(\"Cannot read properties of undefined (reading 'id')\") }; handler()"))
	}
	if len(out) < 3 && os.Getenv("CI") != "" {
		t.Fatalf("only %d runtimes produced an error (python3 is installed by scripts/test-deps.sh)", len(out))
	}
	return out
}

// planted are the lab's and frameworks' leaks written as they appear.
var planted = map[string]string{
	"sql problem":   `{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"sqlite3: near \"'\": syntax error: unterminated quoted string"}`,
	"mysql":         `Error 1064: You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version`,
	"postgres":      `pq: ERROR:  syntax error at or near "OR" at character 42`,
	"java":          "java.lang.NullPointerException\n\tat com.example.api.UserController.get(UserController.java:42)\n\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)",
	"dotnet":        "System.NullReferenceException: Object reference not set to an instance of an object.\n   at Api.Controllers.UsersController.Get(Int32 id) in C:\\src\\Api\\Controllers\\UsersController.cs:line 27",
	"php":           "<br />\n<b>Fatal error</b>:  Uncaught Error: Call to undefined function mysql_connect() in /var/www/html/index.php:12\nStack trace:\n#0 {main}",
	"spring page":   `<html><body><h1>Whitelabel Error Page</h1><p>This application has no explicit mapping for /error</p></body></html>`,
	"django page":   `<p>You're seeing this error because you have <code>DEBUG = True</code> in your Django settings file.</p>`,
	"internal path": `{"error":"open /app/config/secrets.py failed"}`,
}

// benign are error bodies that show nothing internal.
var benign = map[string]string{
	"problem":    `{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"the database is unavailable, try again in a minute"}`,
	"nginx page": "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
	"envoy":      "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
	"plain":      "Internal Server Error",
}

func serve(status int, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Retry-After", "30")
		w.Header().Set("X-Trace", "internal")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

func TestLeakingErrorsAreScrubbed(t *testing.T) {
	all := realErrors(t)
	for k, v := range planted {
		all[k] = v
	}
	for name, body := range all {
		t.Run(name, func(t *testing.T) {
			api := config.API{}
			api.Stages.Set(&scrub.Config{})
			e := stagetest.New(t, api, serve(500, body))
			resp, got := e.Do(t, "GET", "/x", nil, "")
			if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("got %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), got)
			}
			id := resp.Header.Get("X-Request-Id")
			if !strings.Contains(string(got), `"request_id":"`+id+`"`) || strings.Contains(string(got), "at ") && strings.Contains(string(got), ".go") {
				t.Fatalf("body %s", got)
			}
			if resp.Header.Get("Retry-After") != "30" {
				t.Errorf("Retry-After lost")
			}
			evs := e.Events()
			if len(evs) != 1 || evs[0].Stage != "scrub" || evs[0].Excerpt == "" || evs[0].RequestID != id {
				t.Fatalf("events: %+v", evs)
			}
			t.Logf("rules %v, excerpt %q", evs[0].Rules, evs[0].Excerpt)
		})
	}
}

func TestHarmlessErrorsPass(t *testing.T) {
	for name, body := range benign {
		t.Run(name, func(t *testing.T) {
			api := config.API{}
			api.Stages.Set(&scrub.Config{})
			e := stagetest.New(t, api, serve(502, body))
			resp, got := e.Do(t, "GET", "/x", nil, "")
			if resp.StatusCode != 502 || string(got) != body {
				t.Fatalf("got %d %q, want the answer unchanged", resp.StatusCode, got)
			}
			if len(e.Events()) != 0 {
				t.Fatalf("events: %+v", e.Events())
			}
		})
	}
}

func TestModes(t *testing.T) {
	leaky := planted["java"]
	cases := []struct {
		name       string
		cfg        scrub.Config
		status     int
		body       string
		replaced   bool
		wantEvents int
	}{
		{"always replaces a harmless 5xx", scrub.Config{Mode: "always"}, 503, benign["problem"], true, 1},
		{"log passes a leak", scrub.Config{Mode: "log"}, 500, leaky, false, 1},
		{"4xx are not inspected by default", scrub.Config{}, 400, leaky, false, 0},
		{"client_errors inspects 4xx", scrub.Config{ClientErrors: true}, 400, leaky, true, 1},
		{"2xx are never touched", scrub.Config{Mode: "always"}, 200, leaky, false, 0},
		{"too large passes, counted", scrub.Config{MaxBodyBytes: 64}, 500, leaky, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			api := config.API{}
			cfg := c.cfg
			api.Stages.Set(&cfg)
			e := stagetest.New(t, api, serve(c.status, c.body))
			resp, got := e.Do(t, "GET", "/x", nil, "")
			if resp.StatusCode != c.status || (string(got) != c.body) != c.replaced {
				t.Fatalf("got %d %q", resp.StatusCode, got)
			}
			if n := len(e.Events()); n != c.wantEvents {
				t.Fatalf("%d events, want %d: %+v", n, c.wantEvents, e.Events())
			}
		})
	}
}

func TestExcerptMasksSecrets(t *testing.T) {
	body := "panic: charge failed for card 4111111111111111 with key AKIAIOSFODNN7EXAMPLE\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:9 +0x1d\n"
	api := config.API{}
	api.Stages.Set(&scrub.Config{})
	e := stagetest.New(t, api, serve(500, body))
	if _, got := e.Do(t, "GET", "/x", nil, ""); strings.Contains(string(got), "4111") {
		t.Fatal("the card reached the client")
	}
	all := e.Everything(t)
	if strings.Contains(all, "4111111111111111") || strings.Contains(all, "AKIAIOSFODNN7EXAMPLE") || !strings.Contains(all, "[REDACTED:card]") {
		t.Fatalf("events and logs: %s", all)
	}
}
