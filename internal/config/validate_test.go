package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/units"
)

func TestValidateProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cert.pem"), "x")
	write(t, filepath.Join(dir, "key.pem"), "x")
	write(t, filepath.Join(dir, "ca.pem"), "x")
	tests := []struct {
		name string
		yaml string
		want []string // "LINE:COL: " prefix + message, or a prefix of it ending in "…"
	}{
		{
			name: "no apis",
			yaml: "log: {level: info}\napis: []\n",
			want: []string{`2:1: apis: at least one API is required (expected a list of APIs with name and upstream.targets)`},
		},
		{
			name: "api name",
			yaml: "apis:\n  - name: Users API\n    upstream: {targets: [http://a]}\n  - upstream: {targets: [http://a]}\n",
			want: []string{
				`2:11: apis[0].name: "Users API" is not a valid API name (expected lowercase letters, digits, '-' and '_', starting with a letter or digit)`,
				`4:5: apis[1].name: name is required (lowercase letters, digits, '-' and '_', e.g. "users")`,
			},
		},
		{
			name: "duplicate api name",
			yaml: "apis:\n  - name: a\n    upstream: {targets: [http://a]}\n  - name: a\n    upstream: {targets: [http://a]}\n",
			want: []string{`4:11: apis[1].name: duplicate API name "a": apis[0] has it already (first at line 2)`},
		},
		{
			name: "targets",
			yaml: "apis:\n  - name: a\n    upstream:\n      targets:\n        - /relative\n        - ftp://h\n        - http://\n        - http://u:p@h\n        - http://h/?q=1\n        - \"http://h:1/base\"\n        - 'http://[::1'\n",
			want: []string{
				`5:11: apis[0].upstream.targets[0]: "/relative" is not an absolute http or https URL (expected e.g. "http://127.0.0.1:9000")`,
				`6:11: apis[0].upstream.targets[1]: "ftp://h" is not an absolute http or https URL (expected e.g. "http://127.0.0.1:9000")`,
				`7:11: apis[0].upstream.targets[2]: "http://" has no host (expected e.g. "http://127.0.0.1:9000")`,
				`8:11: apis[0].upstream.targets[3]: "http://u:xxxxx@h" holds credentials: they would end up in logs (configure upstream authentication elsewhere)`,
				`9:11: apis[0].upstream.targets[4]: "http://h/?q=1" has a query or fragment (expected a base URL: scheme, host, port and optional path)`,
				`11:11: apis[0].upstream.targets[6]: "http://[::1" is not a URL (expected e.g. "http://127.0.0.1:9000" or "https://users.internal:8443")`,
			},
		},
		{
			name: "missing upstream",
			yaml: "apis:\n  - name: a\n",
			want: []string{`2:5: apis[0].upstream.targets: at least one target is required (expected a list of URLs such as "http://127.0.0.1:9000")`},
		},
		{
			name: "path prefix and hosts",
			yaml: "apis:\n  - name: a\n    path_prefix: v1/\n    hosts: [\"\", \"a/b\", \"x.*.com\", \"*.ok.com\"]\n    upstream: {targets: [http://a]}\n",
			want: []string{
				`3:18: apis[0].path_prefix: "v1/" does not start with "/" (expected e.g. "/v1/")`,
				`4:13: apis[0].hosts[0]: "" is not a host name (expected e.g. "api.example.com" or "*.example.com")`,
				`4:17: apis[0].hosts[1]: "a/b" is not a host name (expected e.g. "api.example.com" or "*.example.com")`,
				`4:24: apis[0].hosts[2]: "x.*.com" is not a host name (expected e.g. "api.example.com" or "*.example.com")`,
			},
		},
		{
			name: "listener addresses",
			yaml: "listeners:\n  - addr: localhost\n  - addr: :99999\n  - addr: 127.0.0.1:80\n  - addr: 127.0.0.1:80\n  - h2c: true\n" + minimalAPI,
			want: []string{
				`2:11: listeners[0].addr: "localhost" is not host:port (expected e.g. "127.0.0.1:8080", ":8443" or "[::1]:8080")`,
				`3:11: listeners[1].addr: ":99999" has an invalid port "99999" (expected a number from 0 to 65535)`,
				`5:11: listeners[3].addr: "127.0.0.1:80" is already used by listeners[2] (first at line 4)`,
				`6:5: listeners[4].addr: addr is required (expected host:port, e.g. "0.0.0.0:8443")`,
			},
		},
		{
			name: "redirect without tls listener",
			yaml: "listeners:\n  - addr: :80\n    redirect_https: true\n" + minimalAPI,
			want: []string{`3:21: listeners[0].redirect_https: redirect_https needs a TLS listener to redirect to (add a listener with tls)`},
		},
		{
			name: "redirect on tls listener, h2c on tls",
			yaml: "listeners:\n  - addr: :443\n    redirect_https: true\n    h2c: true\n    tls: {dev: true}\n" + minimalAPI,
			want: []string{
				`3:21: listeners[0].redirect_https: redirect_https is only valid on a plain listener, not a TLS one`,
				`4:10: listeners[0].h2c: h2c is only valid on a plain listener (TLS listeners negotiate HTTP/2 with ALPN)`,
			},
		},
		{
			name: "tls needs certificates",
			yaml: "listeners:\n  - addr: :443\n    tls:\n      min_version: \"1.1\"\n" + minimalAPI,
			want: []string{
				`3:5: listeners[0].tls: a TLS listener needs cert and key, or dev: true for a development certificate`,
				`4:20: listeners[0].tls.min_version: "1.1" is not a supported TLS version (expected "1.2" or "1.3")`,
			},
		},
		{
			name: "tls dev and cert",
			yaml: "listeners:\n  - addr: :443\n    tls: {dev: true, cert: cert.pem, key: key.pem}\n" + minimalAPI,
			want: []string{`3:16: listeners[0].tls.dev: dev: true cannot be combined with cert and key (use either a development certificate or your own)`},
		},
		{
			name: "tls cert without key, missing file, client auth",
			yaml: "listeners:\n  - addr: :443\n    tls:\n      cert: nope.pem\n      client_auth: sometimes\n  - addr: :444\n    tls: {dev: true, client_auth: optional}\n" + minimalAPI,
			want: []string{
				`4:13: listeners[0].tls.cert: cert needs key as well (the PEM private key file)`,
				`4:13: listeners[0].tls.cert: file ` + filepath.Join(dir, "nope.pem") + ` does not exist`,
				`5:20: listeners[0].tls.client_auth: "sometimes" is not a client_auth mode (expected "required" or "optional")`,
				`7:35: listeners[1].tls.client_auth: client_auth "optional" needs client_ca (the CAs that sign client certificates)`,
			},
		},
		{
			name: "files",
			yaml: "apis:\n  - name: a\n    openapi: spec.yaml\n    upstream:\n      targets: [https://a]\n      tls: {ca: missing-ca.pem, cert: cert.pem}\n",
			want: []string{
				`3:14: apis[0].openapi: file ` + filepath.Join(dir, "spec.yaml") + ` does not exist`,
				`6:17: apis[0].upstream.tls.ca: file ` + filepath.Join(dir, "missing-ca.pem") + ` does not exist`,
				`6:39: apis[0].upstream.tls.cert: cert needs key as well (the PEM private key file)`,
			},
		},
		{
			name: "admin",
			yaml: "listeners:\n  - addr: 127.0.0.1:9901\nadmin:\n  addr: 127.0.0.1:9901\n" + minimalAPI,
			want: []string{`4:9: admin.addr: "127.0.0.1:9901" is also listeners[0].addr (the admin plane needs its own address)`},
		},
		{
			name: "admin disabled is not checked",
			yaml: "admin:\n  addr: nonsense\n  disabled: true\n" + minimalAPI,
		},
		{
			name: "log level",
			yaml: "log:\n  level: verbose\n" + minimalAPI,
			want: []string{`2:10: log.level: "verbose" is not a log level (expected one of: debug, info, warn, error)`},
		},
		{
			name: "negative durations and counts",
			yaml: "server:\n  idle_timeout: -1s\nevents:\n  queue_size: -1\napis:\n  - name: a\n    upstream:\n      targets: [http://a]\n      circuit_breaker: {open_for: -5m}\n    limits: {max_body_bytes: -1}\n",
			want: []string{
				`2:17: server.idle_timeout: -1s is negative (expected a duration of 0 or more)`,
				`4:15: events.queue_size: -1 is negative (expected 0 or more)`,
				`9:35: apis[0].upstream.circuit_breaker.open_for: -5m0s is negative (expected a duration of 0 or more)`,
			},
		},
		{
			name: "gc percent",
			yaml: "server:\n  gc_percent: -5\n" + minimalAPI,
			want: []string{`2:15: server.gc_percent: -5 is negative (expected 0 or more)`},
		},
		{
			name: "trusted proxies and ipfilter",
			yaml: "server:\n  trusted_proxies: [10.0.0.0/8, 10.0.0.0/33, fe80::1, nope]\n" + minimalAPI,
			want: []string{
				`2:33: server.trusted_proxies[1]: "10.0.0.0/33" is not a CIDR or an IP address (expected e.g. "10.0.0.0/8" or "192.0.2.1")`,
				`2:55: server.trusted_proxies[3]: "nope" is not a CIDR or an IP address (expected e.g. "10.0.0.0/8" or "192.0.2.1")`,
			},
		},
		{
			name: "hsts preload",
			yaml: "server:\n  hsts:\n    max_age: 24h\n    preload: true\n" + minimalAPI,
			want: []string{
				`3:14: server.hsts.max_age: max_age 24h0m0s is too short for preload (expected at least 8760h, one year)`,
				`4:14: server.hsts.preload: preload requires include_subdomains: true (the preload list only accepts whole domains)`,
			},
		},
		{
			name: "hsts preload with defaults is fine",
			yaml: "server:\n  hsts: {preload: true, include_subdomains: true}\n" + minimalAPI,
		},
		{
			name: "health check",
			yaml: "apis:\n  - name: a\n    upstream:\n      targets: [http://a]\n      health_check: {path: healthz, interval: 1s, timeout: 5s}\n",
			want: []string{
				`5:28: apis[0].upstream.health_check.path: "healthz" does not start with "/" (expected e.g. "/healthz")`,
				`5:60: apis[0].upstream.health_check.timeout: timeout 5s is longer than interval 1s (a check must end before the next starts)`,
			},
		},
		{
			name: "valid tls with files",
			yaml: "listeners:\n  - addr: :443\n    tls: {cert: cert.pem, key: key.pem, client_ca: ca.pem}\n  - addr: :80\n    redirect_https: true\n" + minimalAPI,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(filepath.Join(dir, "p.yaml"), []byte(tt.yaml), env(nil))
			ps := problemsOf(t, err)
			var got []string
			for _, p := range ps {
				got = append(got, strings.TrimPrefix(p.Error(), filepath.Join(dir, "p.yaml")+":"))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// An ipfilter entry is reported whether the ipfilter package validates its
// own block (through Validate() field.List) or not.
func TestValidateIPFilter(t *testing.T) {
	t.Parallel()
	src := "ipfilter:\n  allow: [10.0.0.0/8, not-an-ip]\n" + minimalAPI + "    ipfilter:\n      deny: [300.0.0.1]\n"
	_, err := parse("p.yaml", []byte(src), env(nil))
	ps := problemsOf(t, err)
	want := map[string]Position{
		"$.ipfilter.allow[1]":        {2, 23},
		"$.apis[0].ipfilter.deny[0]": {8, 14},
	}
	got := map[string]Position{}
	for _, p := range ps {
		got[p.Path] = Position{p.Line, p.Column}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v (%v)", got, want, err)
	}
}

func TestFieldProblems(t *testing.T) {
	t.Parallel()
	c, err := parse("p.yaml", []byte(minimalAPI+"    limits:\n      max_body_bytes: 1MiB\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	l := field.List{
		field.Errorf("max_body_bytes", "too big"),
		field.Errorf("max_json_depth", "not written: points at the block"),
		field.Errorf("", "the block itself"),
	}
	var got []string
	for _, p := range c.Source.FieldProblems("apis[0].limits", l) {
		got = append(got, p.Error())
	}
	want := []string{
		"p.yaml:6:23: apis[0].limits.max_body_bytes: too big",
		"p.yaml:5:5: apis[0].limits.max_json_depth: not written: points at the block",
		"p.yaml:5:5: apis[0].limits: the block itself",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestValidateBuiltInCode(t *testing.T) {
	t.Parallel()
	c := (&Config{APIs: []API{{Name: "a", Upstream: Upstream{Targets: []string{"http://a"}}}}}).WithDefaults()
	if ps := c.Validate(); len(ps) != 0 {
		t.Errorf("got %v, want no problems", ps)
	}
	c.APIs[0].Upstream.Targets = nil
	ps := c.Validate()
	if len(ps) != 1 || ps[0].Error() != "apis[0].upstream.targets: at least one target is required (expected a list of URLs such as \"http://127.0.0.1:9000\")" || ps[0].Line != 0 {
		t.Errorf("got %v, want one problem without a position", ps)
	}
}

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	c := &Config{
		Listeners: nil,
		APIs: []API{{
			Name: "a",
			Upstream: Upstream{
				Targets:        []string{"http://a"},
				ConnectTimeout: time.Second, // set: kept
				HealthCheck:    &HealthCheck{},
			},
		}},
	}
	c.Listeners = nil
	c.WithDefaults()
	tests := []struct {
		name      string
		got, want any
	}{
		{"listeners", c.Listeners, []Listener{{Addr: "127.0.0.1:8080"}}},
		{"admin addr", c.Admin.Addr, "127.0.0.1:9901"},
		{"read header timeout", c.Server.ReadHeaderTimeout, 10 * time.Second},
		{"read timeout", c.Server.ReadTimeout, 60 * time.Second},
		{"write timeout stays 0", c.Server.WriteTimeout, time.Duration(0)},
		{"idle timeout", c.Server.IdleTimeout, 120 * time.Second},
		{"max header bytes", c.Server.MaxHeaderBytes, units.Bytes(64 << 10)},
		{"shutdown timeout", c.Server.ShutdownTimeout, 30 * time.Second},
		{"hsts max age", c.Server.HSTS.MaxAge, 8760 * time.Hour},
		{"log access", c.Log.Access, "stdout"},
		{"log level", c.Log.Level, "info"},
		{"queue size", c.Events.QueueSize, 4096},
		{"path prefix", c.APIs[0].PathPrefix, "/"},
		{"connect timeout kept", c.APIs[0].Upstream.ConnectTimeout, time.Second},
		{"response header timeout", c.APIs[0].Upstream.ResponseHeaderTimeout, 30 * time.Second},
		{"idle conn timeout", c.APIs[0].Upstream.IdleConnTimeout, 90 * time.Second},
		{"max idle conns", c.APIs[0].Upstream.MaxIdleConnsPerHost, 64},
		{"health check", *c.APIs[0].Upstream.HealthCheck, HealthCheck{Path: "/healthz", Interval: 10 * time.Second, Timeout: 2 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 3}},
		{"breaker", c.APIs[0].Upstream.CircuitBreaker, CircuitBreaker{Failures: 5, OpenFor: 30 * time.Second}},
		{"upstream tls stays nil", c.APIs[0].Upstream.TLS, (*UpstreamTLS)(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	t.Run("tls", func(t *testing.T) {
		c := (&Config{Listeners: []Listener{{Addr: ":1", TLS: &TLS{Dev: true}}, {Addr: ":2", TLS: &TLS{ClientCA: "ca", MinVersion: "1.3"}}}}).WithDefaults()
		if got, want := *c.Listeners[0].TLS, (TLS{Dev: true, MinVersion: "1.2"}); got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
		if got, want := *c.Listeners[1].TLS, (TLS{ClientCA: "ca", MinVersion: "1.3", ClientAuth: "required"}); got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("idempotent", func(t *testing.T) {
		c1 := (&Config{APIs: []API{{Name: "a"}}}).WithDefaults()
		c2 := (&Config{APIs: []API{{Name: "a"}}}).WithDefaults().WithDefaults()
		if !reflect.DeepEqual(c1, c2) {
			t.Errorf("got %+v, want %+v", c2, c1)
		}
	})
}
