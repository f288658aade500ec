package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/tlsconf"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the real portcullis binary once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "portcullis-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "portcullis")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// process is a running portcullis binary.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr strings.Builder
	lines  chan string
}

// startBinary runs `portcullis args...` and waits until its log says the
// admin listener is up (the last thing Start does).
func startBinary(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binary(t), args...), lines: make(chan string, 1024)}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
		}
	})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
	}()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("portcullis exited before it was ready:\n%s", p.log())
			}
			if strings.Contains(l, "admin listening") {
				return p
			}
		case <-deadline:
			t.Fatalf("portcullis not ready after 30s:\n%s", p.log())
		}
	}
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func TestBinaryTLSAndMTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlsconf.GenerateCA(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey, err := tlsconf.IssueCert(ca, dir, "server", "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	cliCert, cliKey, err := tlsconf.IssueCert(ca, dir, "client", "client.example")
	if err != nil {
		t.Fatal(err)
	}

	type seen struct{ xff, rid string }
	got := make(chan seen, 16)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Request-Id")}
		io.WriteString(w, "hello")
	}))
	defer up.Close()

	tlsAddr, plainAddr, adminAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	cfgFile := filepath.Join(dir, "portcullis.yaml")
	cfg := fmt.Sprintf(`
listeners:
  - addr: %s
    tls:
      cert: %s
      key: %s
      client_ca: %s
      client_auth: required
  - addr: %s
    redirect_https: true
admin:
  addr: %s
log:
  access: off
server:
  hsts: {max_age: 8760h, include_subdomains: true}
apis:
  - name: e2e
    upstream:
      targets: [%s]
`, tlsAddr, srvCert, srvKey, ca.CertFile, plainAddr, adminAddr, up.URL)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, "serve", "-c", cfgFile)

	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	clientPair, err := tls.LoadX509KeyPair(cliCert, cliKey)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("TLS 1.0 and 1.1 refused", func(t *testing.T) {
		for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
			c, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: roots, MinVersion: v, MaxVersion: v, Certificates: []tls.Certificate{clientPair}})
			if err == nil {
				c.Close()
				t.Fatalf("TLS version %x: handshake succeeded, want refused", v)
			}
		}
	})

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientPair}},
		ForceAttemptHTTP2: true,
	}}
	t.Run("HTTP/2, HSTS, request id and client IP upstream", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "https://"+tlsAddr+"/hello", nil)
		req.Header.Set("X-Forwarded-For", "6.6.6.6")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%v\n%s", err, p.log())
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "hello" {
			t.Fatalf("got %d %q, want 200 hello", resp.StatusCode, body)
		}
		if resp.ProtoMajor != 2 {
			t.Errorf("protocol: got %s, want HTTP/2", resp.Proto)
		}
		if h := resp.Header.Get("Strict-Transport-Security"); h != "max-age=31536000; includeSubDomains" {
			t.Errorf("HSTS: got %q", h)
		}
		s := <-got
		if s.xff != "127.0.0.1" {
			t.Errorf("upstream X-Forwarded-For: got %q, want 127.0.0.1 (the spoofed value must not pass)", s.xff)
		}
		if s.rid == "" || s.rid != resp.Header.Get("X-Request-Id") {
			t.Errorf("upstream X-Request-Id: got %q, client saw %q", s.rid, resp.Header.Get("X-Request-Id"))
		}
	})

	t.Run("client without certificate refused", func(t *testing.T) {
		noCert := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots},
		}}
		resp, err := noCert.Get("https://" + tlsAddr + "/hello")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got %d, want the handshake refused", resp.StatusCode)
		}
	})

	t.Run("plain HTTP redirected to HTTPS", func(t *testing.T) {
		plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := plain.Get("http://" + plainAddr + "/pets?x=1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		_, port, _ := net.SplitHostPort(tlsAddr)
		want := "https://127.0.0.1:" + port + "/pets?x=1"
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
			t.Fatalf("got %d Location %q, want 308 %s", resp.StatusCode, resp.Header.Get("Location"), want)
		}
	})

	t.Run("handshake failures are counted", func(t *testing.T) {
		resp, err := http.Get("http://" + adminAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "portcullis_tls_handshake_errors_total") {
			t.Fatalf("metrics lack portcullis_tls_handshake_errors_total")
		}
	})
}
