// Command loadgen is the benchmark's HTTP load generator. It keeps -c
// keep-alive connections busy, each worker sending one request after the
// other, for -warmup (not measured) and then -d (measured), and prints one
// JSON line:
//
//	{"rps":..,"p50_ms":..,"p99_ms":..,"errors":..,"non2xx":..,"requests":..}
//
// requests, errors and non2xx count measured requests only; errors are
// transport failures (refused, reset, timeout), non2xx are answers outside
// 200..299 (redirects are not followed).
//
// With -pid (Linux), the line also carries cpu_us_per_req: the CPU time
// (user and system, all threads) that process spent during the measured
// duration, divided by the measured requests. On a shared machine it
// moves far less than req/s from run to run: a burst of other work makes
// a row slower, not its server's requests dearer.
//
// It only sends to loopback addresses (127.0.0.0/8, ::1, localhost): it is a
// benchmark tool, not a way to load someone else's server. The check is made
// on the URL and again on every address actually dialled.
//
// Usage:
//
//	loadgen -url http://127.0.0.1:8080/bench [-method POST -body-size 1024]
//	        [-c 32] [-d 5s] [-warmup 1s]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MaxDuration is the longest measured run loadgen accepts.
const MaxDuration = 60 * time.Second

// config is what the flags describe.
type config struct {
	url         *url.URL
	target      string // url.String(), computed once
	method      string
	body        []byte
	contentType string
	conns       int
	duration    time.Duration
	warmup      time.Duration
	timeout     time.Duration
	header      http.Header // extra request headers (-header), may be nil
	pid         int         // the server whose CPU time is measured (-pid), 0 for none
}

// headerFlags collects repeated -header "Name: value" flags.
type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

// result is the one JSON line loadgen prints.
type result struct {
	RPS      float64 `json:"rps"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Errors   int64   `json:"errors"`
	Non2xx   int64   `json:"non2xx"`
	Requests int64   `json:"requests"`
	// CPUPerRequest is the -pid process's CPU time per measured request,
	// in microseconds (absent without -pid).
	CPUPerRequest *float64 `json:"cpu_us_per_req,omitempty"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(realMain(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// realMain runs loadgen with the given arguments and returns the exit
// status: 0 on success, 2 on bad usage, 1 when the run failed.
func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
		}
		return 2
	}
	res, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	line, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: encoding result: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", line)
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rawURL := fs.String("url", "", "target URL (loopback only). Required.")
	method := fs.String("method", http.MethodGet, "HTTP method")
	bodyFile := fs.String("body-file", "", "file whose content is sent as the request body")
	bodySize := fs.Int("body-size", 0, "send a generated JSON body of exactly this many bytes (at least 11)")
	contentType := fs.String("content-type", "", "Content-Type of the body (default application/json when there is a body)")
	conns := fs.Int("c", 32, "concurrent connections (workers), 1..4096")
	duration := fs.Duration("d", 5*time.Second, "measured duration, at most 60s")
	warmup := fs.Duration("warmup", time.Second, "unmeasured warm-up before the measured duration")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout of one request")
	pid := fs.Int("pid", 0, "process id of the server under load: report its CPU time per request (Linux /proc)")
	var headers headerFlags
	fs.Var(&headers, "header", "extra request header \"Name: value\" (repeatable; credentials for authenticated rows)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	cfg := config{
		method:      strings.ToUpper(*method),
		contentType: *contentType,
		conns:       *conns,
		duration:    *duration,
		warmup:      *warmup,
		timeout:     *timeout,
		pid:         *pid,
	}
	if cfg.pid < 0 {
		return config{}, fmt.Errorf("-pid %d: want a process id", cfg.pid)
	}
	if cfg.pid > 0 {
		if _, err := cpuTime(cfg.pid); err != nil {
			return config{}, fmt.Errorf("-pid %d: %w", cfg.pid, err)
		}
	}
	if *rawURL == "" {
		return config{}, errors.New("-url is required")
	}
	u, err := url.Parse(*rawURL)
	if err != nil {
		return config{}, fmt.Errorf("parsing -url: %w", err)
	}
	if err := checkLoopbackURL(u); err != nil {
		return config{}, err
	}
	cfg.url = u
	cfg.target = u.String()
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return config{}, fmt.Errorf("-header %q: want \"Name: value\"", h)
		}
		if cfg.header == nil {
			cfg.header = make(http.Header)
		}
		cfg.header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}

	switch {
	case *bodyFile != "" && *bodySize != 0:
		return config{}, errors.New("-body-file and -body-size are exclusive")
	case *bodyFile != "":
		b, err := os.ReadFile(*bodyFile)
		if err != nil {
			return config{}, fmt.Errorf("reading -body-file: %w", err)
		}
		cfg.body = b
	case *bodySize != 0:
		b, err := jsonBody(*bodySize)
		if err != nil {
			return config{}, err
		}
		cfg.body = b
	}
	if cfg.body != nil && cfg.contentType == "" {
		cfg.contentType = "application/json"
	}
	if cfg.conns < 1 || cfg.conns > 4096 {
		return config{}, fmt.Errorf("-c %d: want 1 to 4096 connections", cfg.conns)
	}
	if cfg.duration <= 0 || cfg.duration > MaxDuration {
		return config{}, fmt.Errorf("-d %s: want more than 0 and at most %s", cfg.duration, MaxDuration)
	}
	if cfg.warmup < 0 || cfg.warmup > MaxDuration {
		return config{}, fmt.Errorf("-warmup %s: want 0 to %s", cfg.warmup, MaxDuration)
	}
	if cfg.timeout <= 0 {
		return config{}, fmt.Errorf("-timeout %s: want more than 0", cfg.timeout)
	}
	return cfg, nil
}

// jsonBody builds {"data":"xxx..."} of exactly n bytes.
func jsonBody(n int) ([]byte, error) {
	const frame = len(`{"data":""}`)
	if n < frame || n > 64<<20 {
		return nil, fmt.Errorf("-body-size %d: want %d bytes to 64MiB", n, frame)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"data":"`...)
	b = append(b, bytes.Repeat([]byte("x"), n-frame)...)
	return append(b, `"}`...), nil
}

// errNotLoopback is returned for targets outside loopback.
var errNotLoopback = errors.New("loadgen only sends to loopback targets (127.0.0.0/8, ::1, localhost)")

// checkLoopbackURL refuses URLs that are not http(s) to a loopback host.
func checkLoopbackURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("-url scheme %q: want http or https", u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("-url %q has no host", u.Redacted())
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing %s: %w", host, errNotLoopback)
	}
	return nil
}

// checkLoopbackDial refuses to connect anywhere but loopback, whatever the
// URL's name resolved to ("localhost" could be mapped elsewhere).
func checkLoopbackDial(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("dial %s: %w", address, errNotLoopback)
	}
	return nil
}

// worker state, merged at the end.
type worker struct {
	hist     histogram
	requests int64
	errors   int64
	non2xx   int64
}

func run(ctx context.Context, cfg config) (result, error) {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: checkLoopbackDial}
	transport := &http.Transport{
		Proxy:               nil, // never send the load through a proxy from the environment
		DialContext:         dialer.DialContext,
		MaxIdleConns:        cfg.conns,
		MaxIdleConnsPerHost: cfg.conns,
		MaxConnsPerHost:     cfg.conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport: transport,
		Timeout:   cfg.timeout,
		// A redirect is an answer like any other; following it could
		// leave loopback.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	// Fail fast on a target that does not answer at all.
	if err := probe(ctx, client, cfg); err != nil {
		return result{}, err
	}

	start := time.Now()
	measureFrom := start.Add(cfg.warmup)
	end := measureFrom.Add(cfg.duration)
	ctx, cancel := context.WithDeadline(ctx, end.Add(cfg.timeout))
	defer cancel()

	// The server's CPU time when the measured duration starts and when
	// its last request has been answered.
	var cpu0 time.Duration
	var cpuErr error
	var cpuTimer *time.Timer
	cpuStart := make(chan struct{}) // closed once cpu0 and cpuErr are set
	if cfg.pid > 0 {
		cpuTimer = time.AfterFunc(cfg.warmup, func() {
			cpu0, cpuErr = cpuTime(cfg.pid)
			close(cpuStart)
		})
		defer cpuTimer.Stop()
	}

	workers := make([]*worker, cfg.conns)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{}
		workers[i] = w
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				status, err := do(ctx, client, cfg)
				if t0.Before(measureFrom) {
					continue
				}
				w.requests++
				w.hist.record(time.Since(t0))
				switch {
				case err != nil:
					w.errors++
				case status < 200 || status > 299:
					w.non2xx++
				}
			}
		})
	}
	wg.Wait()

	var cpuPerReq *float64
	if cfg.pid > 0 {
		measured := true
		select {
		case <-cpuStart:
		case <-ctx.Done():
			// Interrupted during the warm-up: nothing was measured,
			// unless the timer is already reading the start.
			if measured = !cpuTimer.Stop(); measured {
				<-cpuStart
			}
		}
		if measured {
			cpu1, err := cpuTime(cfg.pid)
			if cpuErr == nil && err != nil {
				cpuErr = err
			}
			if cpuErr != nil {
				return result{}, fmt.Errorf("reading the CPU time of process %d: %w", cfg.pid, cpuErr)
			}
			cpuPerReq = new(float64)
			*cpuPerReq = float64(cpu1 - cpu0)
		}
	}

	var total worker
	for _, w := range workers {
		total.hist.merge(&w.hist)
		total.requests += w.requests
		total.errors += w.errors
		total.non2xx += w.non2xx
	}
	measured := cfg.duration
	if now := time.Now(); now.Before(end) { // interrupted
		measured = max(now.Sub(measureFrom), time.Millisecond)
	}
	if cpuPerReq != nil {
		*cpuPerReq = round(*cpuPerReq/float64(time.Microsecond)/float64(max(total.requests, 1)), 1)
	}
	return result{
		CPUPerRequest: cpuPerReq,
		RPS:           round(float64(total.requests)/measured.Seconds(), 1),
		P50:           round(ms(total.hist.quantile(0.50)), 3),
		P99:           round(ms(total.hist.quantile(0.99)), 3),
		Errors:        total.errors,
		Non2xx:        total.non2xx,
		Requests:      total.requests,
	}, nil
}

// probe sends one request and fails when the target cannot be reached.
func probe(ctx context.Context, client *http.Client, cfg config) error {
	if _, err := do(ctx, client, cfg); err != nil {
		return fmt.Errorf("probing %s: %w", cfg.url.Redacted(), err)
	}
	return nil
}

// do sends one request, reads the whole response and returns its status.
func do(ctx context.Context, client *http.Client, cfg config) (int, error) {
	var body io.Reader
	if cfg.body != nil {
		body = bytes.NewReader(cfg.body)
	}
	req, err := http.NewRequestWithContext(ctx, cfg.method, cfg.target, body)
	if err != nil {
		return 0, fmt.Errorf("building request: %w", err)
	}
	if cfg.contentType != "" {
		req.Header.Set("Content-Type", cfg.contentType)
	}
	for k, vs := range cfg.header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	// Drain the body so the connection goes back to the pool.
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// cpuTime is the CPU time (user and system, every thread) process pid has
// used, from /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s:
// USER_HZ is 100 on every Linux architecture Go supports).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// the fields after its closing parenthesis start at field 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the name, want at least 13", pid, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] { // utime, stime
		var n int64
		if _, err := fmt.Sscan(s, &n); err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}
