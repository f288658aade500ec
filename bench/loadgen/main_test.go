package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestParseFlagsRefusesNonLoopback(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		wantErr string // substring; "" means accepted
	}{
		{name: "ipv4 loopback", url: "http://127.0.0.1:8080/bench"},
		{name: "other 127 address", url: "http://127.5.6.7/"},
		{name: "ipv6 loopback", url: "http://[::1]:8080/"},
		{name: "localhost", url: "http://localhost:8080/"},
		{name: "localhost upper case", url: "https://LOCALHOST/"},
		{name: "localhost fqdn", url: "http://localhost./"},
		{name: "public name", url: "http://example.com/", wantErr: "loopback"},
		{name: "public ip", url: "http://8.8.8.8/", wantErr: "loopback"},
		{name: "private ip", url: "http://10.0.0.1:8080/", wantErr: "loopback"},
		{name: "unspecified", url: "http://0.0.0.0:8080/", wantErr: "loopback"},
		{name: "ipv6 public", url: "http://[2001:db8::1]/", wantErr: "loopback"},
		{name: "localhost suffix trick", url: "http://localhost.example.com/", wantErr: "loopback"},
		{name: "loopback-looking name", url: "http://127.0.0.1.nip.io/", wantErr: "loopback"},
		{name: "userinfo trick", url: "http://127.0.0.1@example.com/", wantErr: "loopback"},
		{name: "ipv4-mapped public", url: "http://[::ffff:8.8.8.8]/", wantErr: "loopback"},
		{name: "not http", url: "ftp://127.0.0.1/", wantErr: "scheme"},
		{name: "no host", url: "http:///bench", wantErr: "no host"},
		{name: "missing", url: "", wantErr: "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags([]string{"-url", tt.url}, io.Discard)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got error %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRealMainRefusesNonLoopback(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := realMain(context.Background(), []string{"-url", "http://192.0.2.1/"}, &stdout, &stderr)
	if code != 2 {
		t.Errorf("exit status: got %d, want 2", code)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout: got %q, want nothing", stdout.String())
	}
	if !strings.Contains(stderr.String(), "only sends to loopback") {
		t.Errorf("stderr: got %q, want a clear loopback error", stderr.String())
	}
}

func TestCheckLoopbackDial(t *testing.T) {
	tests := []struct {
		address string
		wantErr bool
	}{
		{address: "127.0.0.1:80"},
		{address: "[::1]:80"},
		{address: "93.184.216.34:80", wantErr: true},
		{address: "[2001:db8::1]:443", wantErr: true},
		{address: "garbage", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			err := checkLoopbackDial("tcp", tt.address, nil)
			if got := err != nil; got != tt.wantErr {
				t.Errorf("got error %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr && err != nil && strings.Contains(tt.address, ".") && !errors.Is(err, errNotLoopback) {
				t.Errorf("got %v, want errNotLoopback", err)
			}
		})
	}
}

func TestParseFlagsLimits(t *testing.T) {
	bodyFile := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(bodyFile, []byte(`{"a":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"-url", "http://127.0.0.1:1/"}
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, cfg config)
	}{
		{name: "defaults", check: func(t *testing.T, cfg config) {
			if cfg.conns != 32 || cfg.duration != 5*time.Second || cfg.warmup != time.Second || cfg.method != "GET" || cfg.body != nil {
				t.Errorf("got %+v, want c=32 d=5s warmup=1s GET without body", cfg)
			}
		}},
		{name: "max duration", args: []string{"-d", "60s"}},
		{name: "over max duration", args: []string{"-d", "61s"}, wantErr: "at most 1m0s"},
		{name: "zero duration", args: []string{"-d", "0s"}, wantErr: "-d"},
		{name: "zero conns", args: []string{"-c", "0"}, wantErr: "-c"},
		{name: "body size", args: []string{"-method", "post", "-body-size", "1024"}, check: func(t *testing.T, cfg config) {
			if len(cfg.body) != 1024 || !json.Valid(cfg.body) || cfg.contentType != "application/json" || cfg.method != "POST" {
				t.Errorf("got body of %d bytes (valid %v), type %q, method %s; want 1024 bytes of JSON, application/json, POST",
					len(cfg.body), json.Valid(cfg.body), cfg.contentType, cfg.method)
			}
		}},
		{name: "body size too small", args: []string{"-body-size", "5"}, wantErr: "-body-size"},
		{name: "body file", args: []string{"-body-file", bodyFile, "-content-type", "text/plain"}, check: func(t *testing.T, cfg config) {
			if string(cfg.body) != `{"a":1}` || cfg.contentType != "text/plain" {
				t.Errorf("got body %q type %q, want the file and text/plain", cfg.body, cfg.contentType)
			}
		}},
		{name: "body file missing", args: []string{"-body-file", filepath.Join(t.TempDir(), "nope")}, wantErr: "reading -body-file"},
		{name: "both bodies", args: []string{"-body-file", bodyFile, "-body-size", "100"}, wantErr: "exclusive"},
		{name: "extra argument", args: []string{"now"}, wantErr: "unexpected"},
		{name: "negative pid", args: []string{"-pid", "-1"}, wantErr: "-pid -1"},
		{name: "no such process", args: []string{"-pid", "2147483646"}, wantErr: "-pid 2147483646"},
		{name: "pid", args: []string{"-pid", strconv.Itoa(os.Getpid())}, check: func(t *testing.T, cfg config) {
			if cfg.pid != os.Getpid() {
				t.Errorf("pid %d, want %d", cfg.pid, os.Getpid())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseFlags(append(append([]string{}, base...), tt.args...), io.Discard)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	if got := h.quantile(0.5); got != 0 {
		t.Errorf("empty quantile: got %v, want 0", got)
	}
	// 1µs .. 100ms, evenly spread.
	const n = 100000
	for i := 1; i <= n; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := q * n * float64(time.Microsecond)
		got := float64(h.quantile(q))
		if math.Abs(got-want)/want > 0.01 {
			t.Errorf("quantile %v: got %v, want %v within 1%%", q, time.Duration(got), time.Duration(want))
		}
	}
	// Every bucket's middle maps back to the same bucket.
	for i := range bucketLen {
		if got := bucketOf(bucketValue(i)); got != i {
			t.Fatalf("bucketOf(bucketValue(%d)) = %d, want %d", i, got, i)
		}
	}
	var other histogram
	other.record(time.Hour) // clamped, not out of range
	h.merge(&other)
	if h.total != n+1 {
		t.Errorf("merged total: got %d, want %d", h.total, n+1)
	}
}

// TestRunAgainstServer does a real one-second run and checks the JSON line.
func TestRunAgainstServer(t *testing.T) {
	var got1024 atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || len(b) != 1024 || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		got1024.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()

	var stdout, stderr bytes.Buffer
	// The server runs in this process: -pid measures it (and the client).
	args := []string{"-url", srv.URL + "/bench", "-method", "POST", "-body-size", "1024", "-c", "4", "-d", "1s", "-warmup", "0s",
		"-pid", strconv.Itoa(os.Getpid())}
	if code := realMain(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status: got %d, want 0 (stderr %s)", code, stderr.String())
	}
	out := stdout.String()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("got output %q, want exactly one line", out)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &fields); err != nil {
		t.Fatalf("output is not JSON: %v: %s", err, out)
	}
	for _, k := range []string{"rps", "p50_ms", "p99_ms", "errors", "non2xx", "requests", "cpu_us_per_req"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("output lacks %q: %s", k, out)
		}
	}
	var res result
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("decoding result: %v", err)
	}
	if res.Requests <= 0 || res.RPS <= 0 {
		t.Errorf("got %d requests at %v rps, want some", res.Requests, res.RPS)
	}
	if res.Errors != 0 || res.Non2xx != 0 {
		t.Errorf("got %d errors and %d non-2xx, want none", res.Errors, res.Non2xx)
	}
	// A request over loopback costs microseconds of CPU, not nothing and
	// not a second.
	if c := res.CPUPerRequest; c == nil || *c <= 0 || *c > 1e5 {
		t.Errorf("cpu_us_per_req %v, want a few microseconds", c)
	}
	if res.P50 <= 0 || res.P99 < res.P50 {
		t.Errorf("got p50 %v ms and p99 %v ms, want 0 < p50 <= p99", res.P50, res.P99)
	}
	// The server saw at least the measured requests (plus the probe).
	if got := got1024.Load(); got < res.Requests {
		t.Errorf("server saw %d requests, want at least %d", got, res.Requests)
	}
}

func TestRunCountsNon2xxAndRefusedTargets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://example.com/", http.StatusFound)
	}))
	defer srv.Close()
	cfg, err := parseFlags([]string{"-url", srv.URL, "-c", "1", "-d", "50ms", "-warmup", "0s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	res, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Non2xx != res.Requests || res.Errors != 0 {
		t.Errorf("got %+v, want every request counted as non-2xx and the redirect not followed", res)
	}

	// A closed port fails the probe instead of printing a run of errors.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := (&url.URL{Scheme: "http", Host: l.Addr().String()}).String()
	l.Close()
	cfg, err = parseFlags([]string{"-url", closed, "-d", "50ms", "-warmup", "0s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "probing") {
		t.Errorf("got %v, want a probe error", err)
	}
}

// TestCPUTime reads this process's CPU time from /proc and checks it
// against getrusage(2), before and after some work.
func TestCPUTime(t *testing.T) {
	rusage := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	first, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Work until /proc shows 200 ms more (bounded by getrusage: 5 s).
	x := 1.0
	start := rusage()
	var now time.Duration
	for now, err = cpuTime(os.Getpid()); err == nil && now < first+200*time.Millisecond; now, err = cpuTime(os.Getpid()) {
		for range 100000 {
			x = x*1.0000001 + 1e-9
		}
		if rusage()-start > 5*time.Second {
			t.Fatalf("/proc/self/stat still says %v after 5 s of CPU (getrusage)", now)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	// Clock ticks are 10 ms (getrusage is read just after): a few either way.
	if ru := rusage(); now > ru+30*time.Millisecond || now < ru-50*time.Millisecond {
		t.Errorf("/proc says %v, getrusage %v (x=%v)", now, ru, x)
	}
	if _, err := cpuTime(2147483646); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

// TestInterruptedWarmUpHasNoCPU: a run interrupted before its measured
// duration starts reports no CPU time (there is no window to divide), and
// still ends cleanly.
func TestInterruptedWarmUpHasNoCPU(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 2 { // the first request after the probe
			cancel()
		}
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	args := []string{"-url", srv.URL + "/", "-c", "1", "-d", "1s", "-warmup", "60s", "-pid", strconv.Itoa(os.Getpid())}
	if code := realMain(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d (stderr %s)", code, stderr.String())
	}
	if strings.Contains(stdout.String(), "cpu_us_per_req") {
		t.Errorf("CPU reported for a run that measured nothing: %s", stdout.String())
	}
}
