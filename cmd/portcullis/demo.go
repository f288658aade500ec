package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/stage/ipfilter"
	"github.com/portcullis/portcullis/internal/stage/limits"
	"github.com/portcullis/portcullis/internal/units"
)

// demoCheck is one request the demo prints as a curl command and the
// self-test sends itself. Both come from the same data, so the printed
// commands are exactly what CI verifies.
type demoCheck struct {
	Title   string
	Method  string
	Path    string // raw, sent as is (curl --path-as-is)
	Headers [][2]string
	// BodySize sends that many 'a' bytes as a JSON-typed body (oversize tests).
	BodySize int
	Body     string
	Expect   int
	// Contains, when set, must appear in the response body (the selftest
	// checks it; the printed curl shows only the status).
	Contains string
	// Absent, when set, must not appear in the response body.
	Absent string
	// Header, when set, is a response header and the value it must have.
	Header [2]string
	// Base, when set, sends the check to this base URL instead of the
	// gateway (for example the unprotected demo API, to show the
	// difference).
	Base string
	// Repeat, when above 1, sends the request that many times (a shell
	// loop in the printed command), with "{i}" in the path and headers
	// replaced by 1..Repeat; Expect is the last answer's status.
	Repeat int
	// Wait, when set, starts the check at the next whole multiple of Wait
	// since the Unix epoch (a fresh bucket of a detector that counts per
	// bucket); the printed command sleeps to the next whole multiple of
	// its seconds.
	Wait time.Duration
}

// demoDeniedNet is a documentation range (RFC 5737) the demo denies, so that
// a forwarded address from it shows the ipfilter at work.
const demoDeniedNet = "203.0.113.0/24"

// demoFeature is one feature's part of the demo: how it changes the embedded
// config and which checks it prints. Features register themselves from
// their own file (demo_<feature>.go) with an init function, so that each
// feature's demo lines live beside each other and nothing central changes.
type demoFeature struct {
	// Name orders the printed sections ("foundation", "identity", ...).
	Name string
	// Configure changes the demo config before the gateway starts. Optional.
	Configure func(cfg *config.Config, env *demoEnv) error
	// Checks returns the feature's requests. Optional.
	Checks func(env *demoEnv) []demoCheck
}

// demoFeatures are the registered features, in registration order after
// the foundation's.
var demoFeatures []demoFeature

// allDemoChecks returns every feature's checks in order.
func allDemoChecks(env *demoEnv) []demoCheck {
	out := foundationChecks()
	for _, f := range demoFeatures {
		if f.Checks != nil {
			out = append(out, f.Checks(env)...)
		}
	}
	return out
}

// foundationChecks are the gateway foundation's checks.
func foundationChecks() []demoCheck {
	return []demoCheck{
		{Title: "a normal call", Method: "GET", Path: "/pets", Expect: 200},
		{Title: "a normal call with a JSON body", Method: "POST", Path: "/pets",
			Headers: [][2]string{{"Content-Type", "application/json"}},
			Body:    `{"name":"Rex","tag":"dog"}`, Expect: 201},
		{Title: "an oversized body (the demo allows 64KiB)", Method: "POST", Path: "/pets",
			Headers: [][2]string{{"Content-Type", "application/json"}}, BodySize: 100000, Expect: 413},
		{Title: "a path traversal", Method: "GET", Path: "/pets/..%2f..%2fetc%2fpasswd", Expect: 400},
		{Title: "a double-encoded path traversal", Method: "GET", Path: "/pets/%252e%252e/%252e%252e/etc/passwd", Expect: 400},
		{Title: "a request from a denied address (" + demoDeniedNet + ", forwarded by a trusted proxy)", Method: "GET", Path: "/pets",
			Headers: [][2]string{{"X-Forwarded-For", "203.0.113.7"}}, Expect: 403},
		{Title: "a JSON body nested too deep (the limit is 32)", Method: "POST", Path: "/pets",
			Headers: [][2]string{{"Content-Type", "application/json"}},
			Body:    strings.Repeat("[", 40) + strings.Repeat("]", 40), Expect: 400},
		{Title: "an unknown path (answered by the demo API itself)", Method: "GET", Path: "/nothing-here", Expect: 404},
	}
}

// curl renders the check as a copy-paste command printing the status code.
func (c demoCheck) curl(base string) string {
	if c.Base != "" {
		base = c.Base
	}
	var b strings.Builder
	if c.Wait > 0 {
		w := int(c.Wait.Seconds() + 0.999)
		fmt.Fprintf(&b, "sleep $(( %d - $(date +%%s) %% %d )); ", w, w)
	}
	quote := func(v string) string {
		if strings.Contains(v, "{i}") {
			return `"` + strings.ReplaceAll(v, "{i}", "${i}") + `"`
		}
		return "'" + v + "'"
	}
	if c.Repeat > 1 {
		fmt.Fprintf(&b, "for i in $(seq 1 %d); do ", c.Repeat)
	}
	if c.BodySize > 0 {
		fmt.Fprintf(&b, "head -c %d /dev/zero | tr '\\0' 'a' | ", c.BodySize)
	}
	b.WriteString("curl -s -o /dev/null -w '%{http_code}\\n' --path-as-is")
	if c.Method != "GET" {
		b.WriteString(" -X " + c.Method)
	}
	for _, h := range c.Headers {
		fmt.Fprintf(&b, " -H %s", quote(h[0]+": "+h[1]))
	}
	switch {
	case c.BodySize > 0:
		b.WriteString(" --data-binary @-")
	case c.Body != "":
		fmt.Fprintf(&b, " -d '%s'", c.Body)
	}
	fmt.Fprintf(&b, " %s", quote(base+c.Path))
	if c.Repeat > 1 {
		b.WriteString("; done | tail -n 1")
	}
	return b.String()
}

// send performs the check and returns the status code and whether the
// body holds c.Contains.
func (c demoCheck) send(client *http.Client, base string) (int, bool, error) {
	if c.Wait > 0 {
		now, b := time.Now().UnixMicro(), c.Wait.Microseconds()
		time.Sleep(time.Duration(b-now%b) * time.Microsecond)
		c.Wait = 0
	}
	if c.Repeat > 1 {
		var code int
		var holds bool
		for i := 1; i <= c.Repeat; i++ {
			one := c
			one.Repeat = 0
			n := strconv.Itoa(i)
			one.Path = strings.ReplaceAll(c.Path, "{i}", n)
			one.Headers = nil
			for _, h := range c.Headers {
				one.Headers = append(one.Headers, [2]string{h[0], strings.ReplaceAll(h[1], "{i}", n)})
			}
			var err error
			if code, holds, err = one.send(client, base); err != nil {
				return code, holds, err
			}
		}
		return code, holds, nil
	}
	if c.Base != "" {
		base = c.Base
	}
	var body io.Reader
	switch {
	case c.BodySize > 0:
		body = bytes.NewReader(bytes.Repeat([]byte("a"), c.BodySize))
	case c.Body != "":
		body = strings.NewReader(c.Body)
	}
	req, err := http.NewRequest(c.Method, base+"/", body)
	if err != nil {
		return 0, false, err
	}
	req.URL.Opaque = c.Path // sent verbatim, like curl --path-as-is
	for _, h := range c.Headers {
		req.Header.Set(h[0], h[1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, false, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	holds := bytes.Contains(b, []byte(c.Contains)) && (c.Absent == "" || !bytes.Contains(b, []byte(c.Absent))) &&
		(c.Header[0] == "" || resp.Header.Get(c.Header[0]) == c.Header[1])
	return resp.StatusCode, holds, err
}

// expectation describes what the body and headers of c's answer must show.
func (c demoCheck) expectation() string {
	var parts []string
	if c.Contains != "" {
		parts = append(parts, fmt.Sprintf("contain %q", c.Contains))
	}
	if c.Absent != "" {
		parts = append(parts, fmt.Sprintf("not contain %q", c.Absent))
	}
	if c.Header[0] != "" {
		parts = append(parts, fmt.Sprintf("have %s: %s", c.Header[0], c.Header[1]))
	}
	return strings.Join(parts, " and ")
}

// demoShutdownTimeout is how long the demo lets requests finish when it
// is stopped.
const demoShutdownTimeout = 5 * time.Second

// demoConfig is the embedded default configuration the demo runs.
func demoConfig(gatewayAddr, adminAddr, upstreamURL, dataDir string) *config.Config {
	return &config.Config{
		Listeners: []config.Listener{{Addr: gatewayAddr}},
		Server: config.Server{
			// The demo trusts loopback as a proxy so that X-Forwarded-For from
			// curl shows the ipfilter at work. Never trust clients in production.
			TrustedProxies: []string{"127.0.0.0/8", "::1"},
			// Ctrl-C should stop the demo soon: requests still running
			// after this are cut off.
			ShutdownTimeout: demoShutdownTimeout,
		},
		Admin: config.Admin{Addr: adminAddr, Token: "demo-admin-token"},
		Log:   config.Log{Access: filepath.Join(dataDir, "access.log")},
		Events: config.Events{
			JSONL:  filepath.Join(dataDir, "events.jsonl"),
			SQLite: filepath.Join(dataDir, "events.db"),
		},
		Stages: config.Blocks{
			"ipfilter": &ipfilter.Config{Deny: []string{demoDeniedNet}},
			"limits":   &limits.Config{MaxBodyBytes: units.Bytes(64 << 10)},
		},
		APIs: []config.API{{
			Name:     "demo",
			Upstream: config.Upstream{Targets: []string{upstreamURL}},
		}},
	}
}

func newDemo() *cobra.Command {
	var addr, adminAddr, upstreamAddr string
	var selftest bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a demo API behind the gateway, with no files and no services needed",
		Long: `Start, in one process, a small demo API (pets, users, orders), the gateway in
front of it and the admin listener, then print copy-paste curl commands with
the answer to expect. With --selftest, bind free loopback ports, send every
printed request, print ok/FAIL per request and exit non-zero on any failure.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if selftest {
				addr, adminAddr, upstreamAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
			}
			if demoVulnerable && !selftest {
				printVulnerableHint(cmd.OutOrStdout(), upstreamAddr)
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), addr, adminAddr, upstreamAddr, selftest)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "gateway address")
	cmd.Flags().StringVar(&adminAddr, "admin-addr", "127.0.0.1:9901", "admin address (metrics, health, admin API)")
	cmd.Flags().StringVar(&upstreamAddr, "upstream-addr", "127.0.0.1:8081", "address of the demo API itself (unprotected)")
	cmd.Flags().BoolVar(&selftest, "selftest", false, "send every printed request and check the answers")
	cmd.Flags().BoolVar(&demoVulnerable, "vulnerable", false, "serve the scanner lab with planted flaws on the demo API address (for portcullis scan; never expose it)")
	return cmd
}

// demoEnv is a running demo: the demo API, the gateway and the admin listener.
type demoEnv struct {
	base, admin, upstream, dataDir string
	close                          func()
}

// startDemo starts the demo on the given addresses (port 0 for free ports).
func startDemo(addr, adminAddr, upstreamAddr string, logLevel slog.Level) (*demoEnv, error) {
	dataDir, err := os.MkdirTemp("", "portcullis-demo-")
	if err != nil {
		return nil, err
	}
	var closers []func()
	cleanup := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	closers = append(closers, func() { os.RemoveAll(dataDir) })

	upLn, err := net.Listen("tcp", upstreamAddr)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("demo API: %w", err)
	}
	upSrv := &http.Server{Handler: demo.NewAPI(demo.APIOptions{Vulnerable: demoVulnerable}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = upSrv.Serve(upLn) }()
	closers = append(closers, func() { upSrv.Close() })
	upstreamURL := "http://" + upLn.Addr().String()

	gwLn, err := net.Listen("tcp", addr)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	adLn, err := net.Listen("tcp", adminAddr)
	if err != nil {
		gwLn.Close()
		cleanup()
		return nil, fmt.Errorf("admin: %w", err)
	}
	cfg := demoConfig(gwLn.Addr().String(), adLn.Addr().String(), upstreamURL, dataDir)
	env := &demoEnv{
		base:     "http://" + gwLn.Addr().String(),
		admin:    "http://" + adLn.Addr().String(),
		upstream: upstreamURL,
		dataDir:  dataDir,
	}
	for _, f := range demoFeatures {
		if f.Configure == nil {
			continue
		}
		if err := f.Configure(cfg, env); err != nil {
			gwLn.Close()
			adLn.Close()
			cleanup()
			return nil, fmt.Errorf("demo %s: %w", f.Name, err)
		}
	}
	cfg.WithDefaults()
	srv, err := gateway.NewServer(cfg, gateway.Options{
		Logger:        slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel})), // JSON lines, as serve logs
		Listeners:     []net.Listener{gwLn},
		AdminListener: adLn,
	})
	if err != nil {
		gwLn.Close()
		adLn.Close()
		cleanup()
		return nil, err
	}
	if err := srv.Start(); err != nil {
		cleanup()
		return nil, err
	}
	closers = append(closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
		defer cancel()
		_ = srv.Close(ctx)
	})
	env.close = cleanup
	return env, nil
}

func runDemo(ctx context.Context, out io.Writer, addr, adminAddr, upstreamAddr string, selftest bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	level := slog.LevelInfo
	if selftest {
		level = slog.LevelWarn
	}
	env, err := startDemo(addr, adminAddr, upstreamAddr, level)
	if err != nil {
		return err
	}
	defer env.close()
	checks := allDemoChecks(env)
	if selftest {
		return demoSelftest(out, env.base, checks)
	}
	// Listen for Ctrl-C before saying so: a SIGINT that came between the
	// line and the listening would kill the process without cleaning up.
	sig, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Fprintf(out, `
Portcullis demo
  gateway   %s   (the protected API)
  demo API  %s   (the same API, unprotected)
  admin     %s/metrics   %s/healthz
            curl -H 'Authorization: Bearer demo-admin-token' %s/api/v1/events
  access log and events: %s

Try these (each prints the status code; expected answer on the right):
`, env.base, env.upstream, env.admin, env.admin, env.admin, env.dataDir)
	for _, c := range checks {
		fmt.Fprintf(out, "\n  # %s → %d\n  %s\n", c.Title, c.Expect, c.curl(env.base))
	}
	fmt.Fprintln(out, "\nPress Ctrl-C to stop.")
	<-sig.Done()
	return nil
}

func demoSelftest(out io.Writer, base string, checks []demoCheck) error {
	client := &http.Client{Timeout: 10 * time.Second}
	failed := 0
	for _, c := range checks {
		got, holds, err := c.send(client, base)
		status := "ok  "
		if err != nil || got != c.Expect || !holds {
			status = "FAIL"
			failed++
		}
		line := fmt.Sprintf("%s expected %d got %d  %s", status, c.Expect, got, c.Title)
		if !holds {
			line += " (the answer does not " + c.expectation() + ")"
		}
		if err != nil {
			line += " (" + err.Error() + ")"
		}
		fmt.Fprintln(out, line)
	}
	fmt.Fprintf(out, "%d passed, %d failed\n", len(checks)-failed, failed)
	if failed > 0 {
		return &exitError{code: 1, err: errors.New("demo self-test failed")}
	}
	return nil
}
