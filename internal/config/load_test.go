package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stage/limits"
	"github.com/portcullis/portcullis/internal/units"
)

// env is a lookup function over a fixed map, so tests need no t.Setenv.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// unsetenv removes a variable for the test and restores it afterwards.
func unsetenv(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		t.Setenv(n, "")
		os.Unsetenv(n)
	}
}

// problemsOf returns the Problems in err, failing the test when err is
// something else.
func problemsOf(t *testing.T, err error) Problems {
	t.Helper()
	if err == nil {
		return nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is %T (%v), want Problems", err, err)
	}
	return ps
}

const minimalAPI = "apis:\n  - name: users\n    upstream:\n      targets: [http://127.0.0.1:9000]\n"

func TestParseTypeProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want []string // "LINE:COL: MESSAGE" of every problem, in order
	}{
		{
			name: "unknown top-level key with suggestion",
			yaml: "listner:\n  - addr: :80\n" + minimalAPI,
			want: []string{`1:1: unknown key "listner" in the top level, did you mean "listeners"? (expected one of: listeners, server, admin, log, events, alerts, tracing, store, crowdsec, bans, detect, ipfilter, limits, apis)`},
		},
		{
			name: "unknown nested key without suggestion",
			yaml: "server:\n  frobnicate: true\n" + minimalAPI,
			want: []string{`2:3: unknown key "frobnicate" in server (expected one of: read_header_timeout, read_timeout, write_timeout, idle_timeout, max_header_bytes, trusted_proxies, shutdown_timeout, hsts, gc_percent)`},
		},
		{
			name: "unknown key in a list entry",
			yaml: "apis:\n  - name: users\n    upsteam: {}\n    upstream:\n      targets: [http://a]\n",
			want: []string{`3:5: unknown key "upsteam" in apis[0], did you mean "upstream"? (expected one of: name, hosts, path_prefix, strip_prefix, openapi, operations, upstream, ` + apiBlockKeys() + `)`},
		},
		{
			name: "bad duration",
			yaml: "apis:\n  - name: users\n    upstream:\n      targets: [http://a]\n      connect_timeout: 5 seconds\n",
			want: []string{`5:24: apis[0].upstream.connect_timeout: "5 seconds" is not a duration (expected e.g. "5s", "250ms", "1h30m")`},
		},
		{
			name: "integer duration",
			yaml: "server:\n  idle_timeout: 30\n" + minimalAPI,
			want: []string{`2:17: server.idle_timeout: 30 is not a duration (expected a string with a unit, e.g. "5s", "250ms", "1h30m")`},
		},
		{
			name: "bad size",
			yaml: "server:\n  max_header_bytes: 1 lightyear\n" + minimalAPI,
			want: []string{`2:21: server.max_header_bytes: "1 lightyear" is not a size (expected bytes such as 65536, or a number with a unit: "64KiB", "1MiB", "1MB")`},
		},
		{
			name: "string for bool",
			yaml: "admin:\n  disabled: \"no\"\n" + minimalAPI,
			want: []string{`2:13: admin.disabled: "no" is not a boolean (expected true or false)`},
		},
		{
			name: "string for int",
			yaml: "events:\n  queue_size: many\n" + minimalAPI,
			want: []string{`2:15: events.queue_size: "many" is not an integer (expected a whole number such as 4096)`},
		},
		{
			name: "float for int",
			yaml: "events:\n  queue_size: 1.5\n" + minimalAPI,
			want: []string{`2:15: events.queue_size: 1.5 is not an integer (expected a whole number such as 4096)`},
		},
		{
			name: "bool for string",
			yaml: "log:\n  level: true\n" + minimalAPI,
			want: []string{`2:10: log.level: true is a boolean, not a string (expected text; quote it to mean the word: "true")`},
		},
		{
			name: "mapping for list",
			yaml: "apis:\n  name: users\n",
			want: []string{`1:1: apis: a mapping is not a list (expected a list of mappings)`},
		},
		{
			name: "scalar for struct",
			yaml: "server: fast\n" + minimalAPI,
			want: []string{`1:9: server: "fast" is not a mapping (expected a mapping with keys: read_header_timeout, read_timeout, write_timeout, idle_timeout, max_header_bytes, trusted_proxies, shutdown_timeout, hsts, gc_percent)`},
		},
		{
			name: "list for scalar",
			yaml: "log:\n  level: [info]\n" + minimalAPI,
			want: []string{`2:3: log.level: a list is not a string (expected a single value of text)`},
		},
		{
			name: "scalar for list",
			yaml: "apis:\n  - name: users\n    hosts: example.com\n    upstream: {targets: [http://a]}\n",
			want: []string{`3:12: apis[0].hosts: "example.com" is not a list (expected a list of strings)`},
		},
		{
			name: "many problems at once, in file order",
			yaml: "server:\n  read_timeout: soon\n  bogus: 1\nlog:\n  level: [x]\n" + minimalAPI,
			want: []string{
				`2:17: server.read_timeout: "soon" is not a duration (expected e.g. "5s", "250ms", "1h30m")`,
				`3:3: unknown key "bogus" in server (expected one of: read_header_timeout, read_timeout, write_timeout, idle_timeout, max_header_bytes, trusted_proxies, shutdown_timeout, hsts, gc_percent)`,
				`5:3: log.level: a list is not a string (expected a single value of text)`,
			},
		},
		{
			name: "syntax error",
			yaml: "apis: [\n",
			want: []string{`1:7: invalid YAML: sequence end token ']' not found`},
		},
		{
			name: "two documents",
			yaml: minimalAPI + "---\n" + minimalAPI,
			want: []string{`6:1: a second YAML document: a config file holds exactly one (remove the extra ---)`},
		},
		{
			name: "unknown alias",
			yaml: "server: *nope\n" + minimalAPI,
			want: []string{`1:9: server: unknown alias *nope (expected an &nope anchor earlier in the file)`},
		},
		{
			name: "empty file",
			yaml: "",
			want: []string{`1:1: apis: at least one API is required (expected a list of APIs with name and upstream.targets)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parse("", []byte(tt.yaml), env(nil))
			ps := problemsOf(t, err)
			if err == nil {
				t.Fatalf("got config %+v, want problems", c)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	t.Parallel()
	src := `listeners:
  - addr: 0.0.0.0:8443
    tls: {dev: true, min_version: 1.3}
server:
  max_header_bytes: 16384
  read_timeout: 1m30s
  write_timeout: 0
  hsts: {max_age: 17520h}
events:
  queue_size: ${QUEUE}
apis:
  - name: users
    strip_prefix: ${STRIP:-true}
    upstream:
      targets: ["http://${HOST}:9000"]
      connect_timeout: ${TIMEOUT:-250ms}
    limits:
      max_body_bytes: 2MiB
`
	c, err := parse("", []byte(src), env(map[string]string{"QUEUE": "10", "HOST": "10.0.0.5"}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"min_version from a YAML float", c.Listeners[0].TLS.MinVersion, "1.3"},
		{"integer size", c.Server.MaxHeaderBytes, units.Bytes(16384)},
		{"duration", c.Server.ReadTimeout, 90 * time.Second},
		{"bare zero duration", c.Server.WriteTimeout, time.Duration(0)},
		{"hsts max_age", c.Server.HSTS.MaxAge, 17520 * time.Hour},
		{"env into int", c.Events.QueueSize, 10},
		{"env default into bool", c.APIs[0].StripPrefix, true},
		{"env inside a string", c.APIs[0].Upstream.Targets[0], "http://10.0.0.5:9000"},
		{"env default into duration", c.APIs[0].Upstream.ConnectTimeout, 250 * time.Millisecond},
		{"stage block size", BlockOf[limits.Config](c.APIs[0].Stages).MaxBodyBytes, units.Bytes(2 << 20)},
		{"default filled", c.APIs[0].Upstream.ResponseHeaderTimeout, DefaultResponseHeaderTimeout},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	t.Parallel()
	src := `apis:
  - name: a
    upstream: &up
      targets: [http://127.0.0.1:1]
      connect_timeout: 1s
  - name: b
    upstream:
      <<: *up
      connect_timeout: 2s
  - name: c
    upstream: *up
`
	c, err := parse("", []byte(src), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second, time.Second} {
		if got := c.APIs[i].Upstream.ConnectTimeout; got != want {
			t.Errorf("apis[%d] connect_timeout: got %v, want %v", i, got, want)
		}
		if got := c.APIs[i].Upstream.Targets; len(got) != 1 {
			t.Errorf("apis[%d] targets: got %v, want one", i, got)
		}
	}
}

func TestEnvProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{
			name: "unset variable in a plain scalar",
			yaml: "admin:\n  token: abc-${TOKEN}\n" + minimalAPI,
			want: `2:14: admin.token: environment variable TOKEN is not set (set it, or give a default: ${TOKEN:-default})`,
		},
		{
			name: "second reference in a quoted scalar",
			yaml: "admin:\n  token: \"${SET}/${UNSET}\"\n" + minimalAPI,
			want: `2:18: admin.token: environment variable UNSET is not set (set it, or give a default: ${UNSET:-default})`,
		},
		{
			name: "in a list entry",
			yaml: "apis:\n  - name: users\n    upstream:\n      targets:\n        - http://${UPSTREAM_HOST}:80\n",
			want: `5:18: apis[0].upstream.targets[0]: environment variable UPSTREAM_HOST is not set (set it, or give a default: ${UPSTREAM_HOST:-default})`,
		},
		{
			name: "in a literal block",
			yaml: "log:\n  access: |\n    /var/log/${LOGDIR}/a\n" + minimalAPI,
			want: `3:14: log.access: environment variable LOGDIR is not set (set it, or give a default: ${LOGDIR:-default})`,
		},
		{
			name: "unterminated",
			yaml: "admin:\n  token: x${TOKEN\n" + minimalAPI,
			want: `2:11: admin.token: unterminated ${ in "x${TOKEN" (expected ${NAME} or ${NAME:-default}; write $$ for a literal $)`,
		},
		{
			name: "invalid name",
			yaml: "admin:\n  token: ${1X}\n" + minimalAPI,
			want: `2:10: admin.token: invalid variable reference ${1X} (expected ${NAME} or ${NAME:-default} with NAME made of letters, digits and _; write $$ for a literal $)`,
		},
		{
			name: "expanded value of the wrong type",
			yaml: "events:\n  queue_size: ${Q}\n" + minimalAPI,
			want: `2:15: events.queue_size: "lots" is not an integer (expected a whole number such as 4096)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse("", []byte(tt.yaml), env(map[string]string{"SET": "s", "Q": "lots"}))
			ps := problemsOf(t, err)
			if len(ps) != 1 {
				t.Fatalf("got %d problems (%v), want 1", len(ps), err)
			}
			if got := ps[0].Error(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestExpandEnv(t *testing.T) {
	t.Parallel()
	lookup := env(map[string]string{"A": "a", "EMPTY": ""})
	tests := []struct {
		in, want string
		changed  bool
		errs     int
	}{
		{"plain", "plain", false, 0},
		{"${A}", "a", true, 0},
		{"x${A}y${A}", "xaya", true, 0},
		{"${MISSING:-def}", "def", true, 0},
		{"${EMPTY:-def}", "def", true, 0},
		{"${EMPTY}", "", true, 0},
		{"${A:-def}", "a", true, 0},
		{"${MISSING:-}", "", true, 0},
		{"${MISSING:-a:-b}", "a:-b", true, 0},
		{"$$", "$", true, 0},
		{"$${A}", "${A}", true, 0},
		{"^/v1/.*$", "^/v1/.*$", false, 0},
		{"price $5", "price $5", false, 0},
		{"trailing $", "trailing $", false, 0},
		{"${MISSING}", "", true, 1},
		{"${A", "${A", true, 1},
		{"${}", "", true, 1},
		{"${A-B}", "", true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, changed, errs := expandEnv(tt.in, lookup)
			if got != tt.want || changed != tt.changed || len(errs) != tt.errs {
				t.Errorf("got %q changed=%v errs=%v, want %q changed=%v %d errs", got, changed, errs, tt.want, tt.changed, tt.errs)
			}
		})
	}
}

func TestResolveSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "token"), "s3cret\r\n\n")
	write(t, filepath.Join(dir, "empty"), "\n")
	write(t, filepath.Join(dir, "inner"), "a\nb\n")
	c := &Config{File: filepath.Join(dir, "portcullis.yaml")}
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"literal", "literal", "literal", false},
		{"relative file", "file:token", "s3cret", false},
		{"absolute file", "file:" + filepath.Join(dir, "token"), "s3cret", false},
		{"inner newline kept", "file:inner", "a\nb", false},
		{"missing file", "file:nope", "", true},
		{"empty file", "file:empty", "", true},
		{"empty reference", "file:", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.ResolveSecret(tt.in)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("got %q, %v, want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestAdminTokenFromFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "secrets", "admin"), "tok\n")
	tests := []struct {
		name, token, want, problem string
	}{
		{"file", "file:secrets/admin", "tok", ""},
		{"env default to file", "${ADMIN:-file:secrets/admin}", "tok", ""},
		{"literal", "plain", "plain", ""},
		{"missing file", "file:secrets/nope", "", "2:10: admin.token: reading secret file:secrets/nope: open "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, tt.name+".yaml")
			c, err := parse(file, []byte("admin:\n  token: "+tt.token+"\n"+minimalAPI), env(nil))
			if tt.problem != "" {
				ps := problemsOf(t, err)
				if len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), file+":"+tt.problem) {
					t.Fatalf("got %v, want one problem starting %s", err, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Admin.Token != tt.want {
				t.Errorf("got %q, want %q", c.Admin.Token, tt.want)
			}
		})
	}
}

func TestRelativePathsBecomeAbsolute(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"c.pem", "k.pem", "ca.pem", "spec.yaml"} {
		write(t, filepath.Join(dir, "sub", f), "x")
	}
	src := `listeners:
  - addr: 127.0.0.1:8443
    tls: {cert: sub/c.pem, key: sub/k.pem, client_ca: sub/ca.pem}
log:
  access: logs/access.log
events:
  jsonl: events.jsonl
apis:
  - name: users
    openapi: sub/spec.yaml
    upstream:
      targets: [https://127.0.0.1:9443]
      tls: {ca: sub/ca.pem}
`
	c, err := parse(filepath.Join(dir, "p.yaml"), []byte(src), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ got, want string }{
		{c.Listeners[0].TLS.Cert, filepath.Join(dir, "sub/c.pem")},
		{c.Listeners[0].TLS.Key, filepath.Join(dir, "sub/k.pem")},
		{c.Listeners[0].TLS.ClientCA, filepath.Join(dir, "sub/ca.pem")},
		{c.Log.Access, filepath.Join(dir, "logs/access.log")},
		{c.Events.JSONL, filepath.Join(dir, "events.jsonl")},
		{c.APIs[0].OpenAPI, filepath.Join(dir, "sub/spec.yaml")},
		{c.APIs[0].Upstream.TLS.CA, filepath.Join(dir, "sub/ca.pem")},
		{c.Path(c.APIs[0].OpenAPI), filepath.Join(dir, "sub/spec.yaml")},
	} {
		if tt.got != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
}

func TestSourcePositions(t *testing.T) {
	t.Parallel()
	src := `apis:
  - name: users
    upstream:
      targets:
        - http://a:1
        - http://b:2
`
	c, err := parse("f.yaml", []byte(src), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want Position
		ok   bool
	}{
		{"$", Position{1, 1}, true},
		{"$.apis", Position{1, 1}, true},
		{"apis[0]", Position{2, 5}, true},
		{"$.apis[0].name", Position{2, 11}, true},
		{"apis[0].upstream", Position{3, 5}, true},
		{"apis[0].upstream.targets[1]", Position{6, 11}, true},
		{"apis[0].upstream.connect_timeout", Position{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, ok := c.Source.Position(tt.path)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %v %v, want %v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	if got, want := c.Source.Nearest("apis[0].upstream.health_check.path"), (Position{3, 5}); got != want {
		t.Errorf("Nearest: got %v, want %v", got, want)
	}
	p := c.Source.Problem("$.apis[0].upstream.targets[1]", "unreachable")
	if got, want := p.Error(), "f.yaml:6:11: apis[0].upstream.targets[1]: unreachable"; got != want {
		t.Errorf("Problem: got %s, want %s", got, want)
	}
	if got, want := p.Path, "$.apis[0].upstream.targets[1]"; got != want {
		t.Errorf("Problem.Path: got %s, want %s", got, want)
	}
	var nilSrc *Source
	if got := nilSrc.Problem("apis[0]", "x").Error(); got != "apis[0]: x" {
		t.Errorf("nil source: got %q, want %q", got, "apis[0]: x")
	}
}

func TestProblemsFormat(t *testing.T) {
	t.Parallel()
	ps := Problems{
		{File: "p.yaml", Line: 3, Column: 7, Path: "$.a", Message: "a: broken"},
		{Line: 1, Column: 2, Path: "$.b", Message: "b: broken"},
		{File: "p.yaml", Path: "$.c", Message: "c: broken"},
		{Message: "d: broken"},
	}
	want := "p.yaml:3:7: a: broken\n1:2: b: broken\np.yaml: c: broken\nd: broken"
	if got := ps.Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if Problems(nil).Err() != nil {
		t.Errorf("got non-nil Err for no problems, want nil")
	}
	if ps.Err() == nil {
		t.Errorf("got nil Err for problems, want non-nil")
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want a wrapped not-exist error", err)
	}
}

func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A URL with a port in a flow sequence inside a flow mapping is one
// scalar, although the YAML parser reads it as a one-pair mapping.
func TestFlowURLWithPort(t *testing.T) {
	c, err := parse("", []byte("apis:\n  - {name: a, upstream: {targets: [http://127.0.0.1:9000, 'http://10.0.0.1:80']}}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := c.APIs[0].Upstream.Targets
	if len(got) != 2 || got[0] != "http://127.0.0.1:9000" || got[1] != "http://10.0.0.1:80" {
		t.Fatalf("got %q, want the two URLs as written", got)
	}
	// A real mapping where a string belongs is still an error.
	if _, err := parse("", []byte("apis:\n  - {name: a, upstream: {targets: [{a: b}]}}\n"), env(nil)); err == nil {
		t.Fatal("a mapping as a target: got no error")
	}
}

// apiBlockKeys lists the stage blocks of an API in registry order, as the
// decoder names them (a new stage adds its key here by itself).
func apiBlockKeys() string {
	var keys []string
	for _, b := range blockFields("api") {
		keys = append(keys, b.key)
	}
	return strings.Join(keys, ", ")
}
