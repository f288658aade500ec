// Package tlsconf is Portcullis's TLS policy: strict server configurations
// for client-facing listeners (modern protocols and AEAD cipher suites only,
// certificates reloaded from disk without a restart, optional mTLS,
// development certificates) and client configurations for TLS towards
// upstreams (private CAs, server name override, client certificates).
//
// Why strict: old protocol versions and non-AEAD or non-forward-secret
// cipher suites are how man-in-the-middle attackers downgrade and decrypt a
// connection, so none of them is configurable. Certificate verification
// towards upstreams is never turned off; a private CA is configured instead.
package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/config"
)

// DefaultPollInterval is how often a Server checks its certificate and key
// files for changes (modification time and size).
const DefaultPollInterval = 5 * time.Second

// cipherSuites are the TLS 1.2 suites a server or upstream client offers:
// ECDHE key exchange (forward secrecy) with an AEAD cipher only. TLS 1.3
// suites are not configurable in Go and are all AEAD.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// curves are the key exchanges offered, preferred first: the hybrid
// post-quantum X25519MLKEM768 (TLS 1.3 only), then X25519 and P-256.
var curves = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}

// Server is a client-facing TLS configuration whose certificate can change
// at run time. It is safe for concurrent use.
type Server struct {
	cfg    *tls.Config
	logger *slog.Logger

	cert     atomic.Pointer[tls.Certificate]
	certFile string // "" for development certificates
	keyFile  string
	devPEM   []byte

	mu    sync.Mutex // serialises reloads and guards stamp
	stamp fileStamp

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	// polled, when non-nil, receives one value after every poll (tests).
	polled chan<- struct{}
}

// NewServer builds the server TLS configuration for t. Relative file names
// in t are resolved against baseDir (usually the config file's directory).
// Certificate files are polled every DefaultPollInterval and reloaded when
// they change; call Close to stop polling. A nil logger discards logs.
func NewServer(t *config.TLS, baseDir string, logger *slog.Logger) (*Server, error) {
	return newServer(t, baseDir, logger, DefaultPollInterval, nil)
}

func newServer(t *config.TLS, baseDir string, logger *slog.Logger, poll time.Duration, polled chan<- struct{}) (*Server, error) {
	if t == nil {
		return nil, errors.New("tls: no tls configuration")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{logger: logger, polled: polled}

	minVersion := uint16(tls.VersionTLS12)
	switch t.MinVersion {
	case "", "1.2":
	case "1.3":
		minVersion = tls.VersionTLS13
	default:
		return nil, fmt.Errorf("tls: min_version %q: want \"1.2\" or \"1.3\"", t.MinVersion)
	}

	cfg := &tls.Config{
		MinVersion:       minVersion,
		CipherSuites:     cipherSuites,
		CurvePreferences: curves,
		NextProtos:       []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cert.Load(), nil
		},
	}

	switch {
	case t.Dev:
		if t.Cert != "" || t.Key != "" {
			return nil, errors.New("tls: dev and cert/key are mutually exclusive")
		}
		certPEM, keyPEM, err := selfSigned(30 * 24 * time.Hour)
		if err != nil {
			return nil, fmt.Errorf("tls: generating development certificate: %w", err)
		}
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("tls: loading development certificate: %w", err)
		}
		s.cert.Store(&c)
		s.devPEM = certPEM
		logger.Warn("development certificate: not for production; self-signed for localhost, 127.0.0.1 and ::1, valid 30 days; clients must trust it explicitly")
	case t.Cert == "" || t.Key == "":
		return nil, errors.New("tls: cert and key are required unless dev is true")
	default:
		s.certFile = resolve(baseDir, t.Cert)
		s.keyFile = resolve(baseDir, t.Key)
		c, st, err := load(s.certFile, s.keyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		s.cert.Store(c)
		s.stamp = st
	}

	if err := clientAuth(cfg, t, baseDir); err != nil {
		return nil, err
	}
	s.cfg = cfg

	if s.certFile != "" && poll > 0 {
		s.stop = make(chan struct{})
		s.done = make(chan struct{})
		go s.poll(poll)
	}
	return s, nil
}

// clientAuth configures mTLS on cfg from t.ClientCA and t.ClientAuth.
func clientAuth(cfg *tls.Config, t *config.TLS, baseDir string) error {
	if t.ClientCA == "" {
		if t.ClientAuth != "" {
			return fmt.Errorf("tls: client_auth %q needs client_ca", t.ClientAuth)
		}
		return nil
	}
	pool, err := loadPool(resolve(baseDir, t.ClientCA))
	if err != nil {
		return fmt.Errorf("tls: client_ca: %w", err)
	}
	cfg.ClientCAs = pool
	switch t.ClientAuth {
	case "", "required":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case "optional":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		return fmt.Errorf("tls: client_auth %q: want \"required\" or \"optional\"", t.ClientAuth)
	}
	return nil
}

// Config returns the server configuration. Certificates come from
// GetCertificate, so a Clone keeps following reloads; clone it before
// changing fields (for example to drop "h2" from NextProtos).
func (s *Server) Config() *tls.Config { return s.cfg }

// Certificate returns the certificate currently served.
func (s *Server) Certificate() *tls.Certificate { return s.cert.Load() }

// DevCertPEM returns the PEM of the generated development certificate, so
// tests and the demo can trust it, or nil when the server uses files.
func (s *Server) DevCertPEM() []byte { return bytes.Clone(s.devPEM) }

// Reload loads the certificate and key files again and swaps them in. On
// error the current certificate stays in use, the error is logged and
// returned. It does nothing for development certificates.
func (s *Server) Reload() error {
	if s.certFile == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloadLocked()
}

func (s *Server) reloadLocked() error {
	c, st, err := load(s.certFile, s.keyFile)
	// Remember the stamp even on failure so that a bad file is reported
	// once per change, not once per poll.
	s.stamp = st
	if err != nil {
		s.logger.Error("tls certificate reload failed; keeping the current certificate",
			"cert", s.certFile, "key", s.keyFile, "error", err)
		return fmt.Errorf("tls: reloading certificate: %w", err)
	}
	s.cert.Store(c)
	s.logger.Info("tls certificate reloaded", "cert", s.certFile, "not_after", c.Leaf.NotAfter)
	return nil
}

// poll reloads the certificate whenever the files' stamps change.
func (s *Server) poll(every time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		s.mu.Lock()
		if st := stampOf(s.certFile, s.keyFile); st != s.stamp {
			_ = s.reloadLocked() // logged inside
		}
		s.mu.Unlock()
		if s.polled != nil {
			select {
			case s.polled <- struct{}{}:
			case <-s.stop:
				return
			}
		}
	}
}

// Close stops watching the certificate files. It is safe to call more than
// once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.stop != nil {
			close(s.stop)
			<-s.done
		}
	})
	return nil
}

// fileStamp identifies a version of the certificate and key files.
type fileStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

func stampOf(certFile, keyFile string) fileStamp {
	var st fileStamp
	if fi, err := os.Stat(certFile); err == nil {
		st.certMod, st.certSize = fi.ModTime(), fi.Size()
	}
	if fi, err := os.Stat(keyFile); err == nil {
		st.keyMod, st.keySize = fi.ModTime(), fi.Size()
	}
	return st
}

// load reads a certificate chain and key and checks that the leaf is
// currently valid.
func load(certFile, keyFile string) (*tls.Certificate, fileStamp, error) {
	st := stampOf(certFile, keyFile)
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, st, fmt.Errorf("loading %s and %s: %w", certFile, keyFile, err)
	}
	if c.Leaf == nil { // filled by LoadX509KeyPair since Go 1.23; keep a fallback
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, st, fmt.Errorf("parsing %s: %w", certFile, err)
		}
	}
	if time.Now().After(c.Leaf.NotAfter) {
		return nil, st, fmt.Errorf("certificate %s expired at %s", certFile, c.Leaf.NotAfter.Format(time.RFC3339))
	}
	return &c, st, nil
}

// loadPool reads a PEM bundle of CA certificates.
func loadPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading ca bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

func resolve(baseDir, name string) string {
	if name == "" || filepath.IsAbs(name) || baseDir == "" {
		return name
	}
	return filepath.Join(baseDir, name)
}

// Upstream builds the client TLS configuration for https upstream targets.
// A CA bundle replaces the system roots; ServerName overrides the verified
// name; Cert and Key present a client certificate. Relative file names are
// resolved against baseDir. A nil u yields the strict default (system roots,
// the target's host name). Verification is never disabled.
func Upstream(u *config.UpstreamTLS, baseDir string) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     cipherSuites,
		CurvePreferences: curves,
	}
	if u == nil {
		return cfg, nil
	}
	if u.CA != "" {
		pool, err := loadPool(resolve(baseDir, u.CA))
		if err != nil {
			return nil, fmt.Errorf("upstream tls: ca: %w", err)
		}
		cfg.RootCAs = pool
	}
	cfg.ServerName = u.ServerName
	switch {
	case u.Cert != "" && u.Key != "":
		c, err := tls.LoadX509KeyPair(resolve(baseDir, u.Cert), resolve(baseDir, u.Key))
		if err != nil {
			return nil, fmt.Errorf("upstream tls: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	case u.Cert != "" || u.Key != "":
		return nil, errors.New("upstream tls: cert and key go together")
	}
	return cfg, nil
}
