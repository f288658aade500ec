package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
)

// serve accepts TLS connections with cfg on loopback, completes the
// handshake and writes "ok". It returns the address.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if err := c.(*tls.Conn).Handshake(); err != nil {
					return
				}
				io.WriteString(c, "ok")
			}()
		}
	}()
	return ln.Addr().String()
}

// dial handshakes with addr and reads the server's "ok" (a failed client
// certificate check on TLS 1.3 only shows when reading).
func dial(addr string, cfg *tls.Config) (*tls.ConnectionState, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 2)
	if _, err := io.ReadFull(c, b); err != nil {
		return nil, err
	}
	st := c.ConnectionState()
	return &st, nil
}

type pki struct {
	dir                 string
	ca, other           *CA
	srvCert, srvKey     string
	cliCert, cliKey     string
	otherCert, otherKey string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	var err error
	if p.ca, err = GenerateCA(p.dir, "ca"); err != nil {
		t.Fatal(err)
	}
	if p.other, err = GenerateCA(p.dir, "other-ca"); err != nil {
		t.Fatal(err)
	}
	if p.srvCert, p.srvKey, err = IssueCert(p.ca, p.dir, "server", "localhost", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if p.cliCert, p.cliKey, err = IssueCert(p.ca, p.dir, "client", "client-1"); err != nil {
		t.Fatal(err)
	}
	if p.otherCert, p.otherKey, err = IssueCert(p.other, p.dir, "stranger", "client-2"); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *pki) pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	return pool
}

func mustServer(t *testing.T, c *config.TLS, dir string) *Server {
	t.Helper()
	s, err := NewServer(c, dir, nil)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func serialOf(st *tls.ConnectionState) string {
	return st.PeerCertificates[0].SerialNumber.String()
}

func leafSerial(t *testing.T, certFile string) string {
	t.Helper()
	c, err := tls.LoadX509KeyPair(certFile, strings.TrimSuffix(certFile, ".pem")+"-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf.SerialNumber.String()
}

func TestReloadPicksUpNewCertificate(t *testing.T) {
	p := newPKI(t)
	s := mustServer(t, &config.TLS{Cert: "server.pem", Key: "server-key.pem"}, p.dir)
	addr := serve(t, s.Config())
	client := &tls.Config{RootCAs: p.pool(), ServerName: "localhost"}

	st, err := dial(addr, client)
	if err != nil {
		t.Fatal(err)
	}
	first := serialOf(st)
	if want := leafSerial(t, p.srvCert); first != want {
		t.Fatalf("got serial %v, want %v", first, want)
	}

	// Replace the files in place, then reload.
	if _, _, err := IssueCert(p.ca, p.dir, "server", "localhost"); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	st, err = dial(addr, client)
	if err != nil {
		t.Fatal(err)
	}
	second := serialOf(st)
	if want := leafSerial(t, p.srvCert); second != want || second == first {
		t.Fatalf("got serial %v, want %v (first was %v)", second, want, first)
	}

	// A broken key keeps the current certificate.
	if err := os.WriteFile(p.srvKey, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil {
		t.Fatal("Reload of a broken key: got nil error, want one")
	}
	st, err = dial(addr, client)
	if err != nil {
		t.Fatal(err)
	}
	if got := serialOf(st); got != second {
		t.Fatalf("after failed reload got serial %v, want %v", got, second)
	}
}

func TestPollReloadsChangedFiles(t *testing.T) {
	p := newPKI(t)
	polled := make(chan struct{})
	s, err := newServer(&config.TLS{Cert: p.srvCert, Key: p.srvKey}, "", nil, time.Millisecond, polled)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := s.Certificate().Leaf.SerialNumber.String()

	// Unchanged files: a poll keeps the same certificate pointer.
	c0 := s.Certificate()
	<-polled
	if s.Certificate() != c0 {
		t.Fatal("certificate swapped although files did not change")
	}

	if _, _, err := IssueCert(p.ca, p.dir, "server", "localhost"); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour) // make the change visible whatever the mtime granularity
	os.Chtimes(p.srvCert, future, future)
	os.Chtimes(p.srvKey, future, future)
	<-polled // may have been in flight before the change
	<-polled
	if got := s.Certificate().Leaf.SerialNumber.String(); got == before {
		t.Fatalf("got serial %v after poll, want a new certificate", got)
	}
}

func TestProtocolVersions(t *testing.T) {
	p := newPKI(t)
	tests := []struct {
		name     string
		min      string
		clientLo uint16
		clientHi uint16
		wantOK   bool
	}{
		{"tls1.0 refused", "", tls.VersionTLS10, tls.VersionTLS10, false},
		{"tls1.1 refused", "", tls.VersionTLS11, tls.VersionTLS11, false},
		{"tls1.2 accepted", "", tls.VersionTLS12, tls.VersionTLS12, true},
		{"tls1.3 accepted", "", tls.VersionTLS13, tls.VersionTLS13, true},
		{"min 1.3 refuses tls1.2", "1.3", tls.VersionTLS12, tls.VersionTLS12, false},
		{"min 1.3 accepts tls1.3", "1.3", tls.VersionTLS13, tls.VersionTLS13, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustServer(t, &config.TLS{Cert: p.srvCert, Key: p.srvKey, MinVersion: tt.min}, "")
			addr := serve(t, s.Config())
			st, err := dial(addr, &tls.Config{RootCAs: p.pool(), ServerName: "localhost", MinVersion: tt.clientLo, MaxVersion: tt.clientHi})
			if got := err == nil; got != tt.wantOK {
				t.Fatalf("handshake ok: got %v, want %v (err %v)", got, tt.wantOK, err)
			}
			if err == nil && st.Version != tt.clientHi {
				t.Fatalf("version: got %x, want %x", st.Version, tt.clientHi)
			}
		})
	}
}

func TestCipherSuitesTLS12(t *testing.T) {
	p := newPKI(t)
	s := mustServer(t, &config.TLS{Cert: p.srvCert, Key: p.srvKey}, "")
	addr := serve(t, s.Config())
	// A client offering only CBC suites (no AEAD) must be refused.
	_, err := dial(addr, &tls.Config{RootCAs: p.pool(), ServerName: "localhost", MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}})
	if err == nil {
		t.Fatal("CBC-only client: got nil error, want a handshake failure")
	}
}

func TestClientAuth(t *testing.T) {
	p := newPKI(t)
	cli, err := tls.LoadX509KeyPair(p.cliCert, p.cliKey)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := tls.LoadX509KeyPair(p.otherCert, p.otherKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mode   string
		certs  []tls.Certificate
		wantOK bool
	}{
		{"required without cert", "required", nil, false},
		{"default mode without cert", "", nil, false},
		{"required with cert", "required", []tls.Certificate{cli}, true},
		{"required with cert from another ca", "required", []tls.Certificate{stranger}, false},
		{"optional without cert", "optional", nil, true},
		{"optional with cert", "optional", []tls.Certificate{cli}, true},
		{"optional with cert from another ca", "optional", []tls.Certificate{stranger}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustServer(t, &config.TLS{Cert: p.srvCert, Key: p.srvKey, ClientCA: "ca.pem", ClientAuth: tt.mode}, p.dir)
			addr := serve(t, s.Config())
			// GetClientCertificate sends the certificate even when its CA is
			// not among the server's acceptable CAs.
			_, err := dial(addr, &tls.Config{RootCAs: p.pool(), ServerName: "localhost",
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					if len(tt.certs) == 0 {
						return &tls.Certificate{}, nil
					}
					return &tt.certs[0], nil
				}})
			if got := err == nil; got != tt.wantOK {
				t.Fatalf("handshake ok: got %v, want %v (err %v)", got, tt.wantOK, err)
			}
		})
	}
}

func TestDevCertificate(t *testing.T) {
	var logs bytes.Buffer
	s, err := NewServer(&config.TLS{Dev: true}, "", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "development certificate: not for production") {
		t.Fatalf("got log %q, want a WARN about the development certificate", logs.String())
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.DevCertPEM()) {
		t.Fatal("DevCertPEM: no certificate")
	}
	addr := serve(t, s.Config())
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		t.Run(name, func(t *testing.T) {
			if _, err := dial(addr, &tls.Config{RootCAs: pool, ServerName: name}); err != nil {
				t.Fatalf("got %v, want a verified handshake", err)
			}
		})
	}
	leaf := s.Certificate().Leaf
	if d := time.Until(leaf.NotAfter); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Fatalf("got validity %v, want about 30 days", d)
	}
	if _, err := dial(addr, &tls.Config{ServerName: "localhost"}); err == nil {
		t.Fatal("untrusted dev certificate: got nil error, want verification failure")
	}
}

func TestNewServerErrors(t *testing.T) {
	p := newPKI(t)
	bad := filepath.Join(p.dir, "bad.pem")
	os.WriteFile(bad, []byte("nothing here"), 0o644)
	expCert, expKey, err := IssueCertValid(p.ca, p.dir, "expired", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour), "localhost")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  *config.TLS
		want string
	}{
		{"nil", nil, "no tls configuration"},
		{"no cert", &config.TLS{}, "cert and key are required"},
		{"missing file", &config.TLS{Cert: "nope.pem", Key: "nope-key.pem"}, "loading"},
		{"expired", &config.TLS{Cert: expCert, Key: expKey}, "expired"},
		{"bad min version", &config.TLS{Dev: true, MinVersion: "1.1"}, "min_version"},
		{"dev and files", &config.TLS{Dev: true, Cert: p.srvCert, Key: p.srvKey}, "mutually exclusive"},
		{"client auth without ca", &config.TLS{Dev: true, ClientAuth: "required"}, "needs client_ca"},
		{"bad client auth", &config.TLS{Dev: true, ClientCA: p.ca.CertFile, ClientAuth: "sometimes"}, "client_auth"},
		{"empty ca bundle", &config.TLS{Dev: true, ClientCA: bad}, "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewServer(tt.cfg, p.dir, nil)
			if err == nil {
				s.Close()
				t.Fatalf("got nil error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestUpstream(t *testing.T) {
	p := newPKI(t)
	srvPair, err := tls.LoadX509KeyPair(p.srvCert, p.srvKey)
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := "-"
		if len(r.TLS.PeerCertificates) > 0 {
			name = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		io.WriteString(w, name)
	}))
	up.TLS = &tls.Config{Certificates: []tls.Certificate{srvPair}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: p.pool()}
	up.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are expected here
	up.StartTLS()
	defer up.Close()
	port := up.Listener.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name    string
		cfg     *config.UpstreamTLS
		host    string
		wantErr bool
		want    string
	}{
		{"ca verifies", &config.UpstreamTLS{CA: "ca.pem"}, "127.0.0.1", false, "-"},
		{"wrong ca fails", &config.UpstreamTLS{CA: "other-ca.pem"}, "127.0.0.1", true, ""},
		{"system roots fail", nil, "127.0.0.1", true, ""},
		{"server name override", &config.UpstreamTLS{CA: "ca.pem", ServerName: "localhost"}, "127.0.0.1", false, "-"},
		{"wrong server name fails", &config.UpstreamTLS{CA: "ca.pem", ServerName: "evil.example"}, "127.0.0.1", true, ""},
		{"client certificate", &config.UpstreamTLS{CA: "ca.pem", Cert: "client.pem", Key: "client-key.pem"}, "127.0.0.1", false, "client-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Upstream(tt.cfg, p.dir)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.InsecureSkipVerify {
				t.Fatal("InsecureSkipVerify is set")
			}
			if cfg.MinVersion != tls.VersionTLS12 {
				t.Fatalf("MinVersion: got %x, want %x", cfg.MinVersion, tls.VersionTLS12)
			}
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
			res, err := c.Get("https://" + net.JoinHostPort(tt.host, strconv.Itoa(port)) + "/")
			if (err != nil) != tt.wantErr {
				t.Fatalf("error: got %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if string(b) != tt.want {
				t.Fatalf("got %q, want %q", b, tt.want)
			}
		})
	}

	errTests := []struct {
		name string
		cfg  *config.UpstreamTLS
		want string
	}{
		{"missing ca", &config.UpstreamTLS{CA: "nope.pem"}, "ca"},
		{"cert without key", &config.UpstreamTLS{Cert: "client.pem"}, "go together"},
		{"bad pair", &config.UpstreamTLS{Cert: "client.pem", Key: "server-key.pem"}, "client certificate"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Upstream(tt.cfg, p.dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
