package authn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const testSecret = "0123456789abcdef0123456789abcdef-partner"

func signedStage(t *testing.T, clk *clock) *Stage {
	t.Helper()
	s, err := New(&Config{Methods: []Method{{Signature: &SignatureConfig{
		Keys:            []SignatureKey{{ID: "partner-1", Secret: testSecret, Owner: "partner", Roles: []string{"partner"}}},
		RequiredHeaders: []string{"host", "content-type"},
	}}}}, Options{API: "pay", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signedRequest builds a server-side request signed at ts with nonce.
func signedRequest(body string, ts time.Time, nonce string) *http.Request {
	r := httptest.NewRequest("POST", "/payments?currency=EUR&x=1", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	SignRequest(r, []byte(body), "partner-1", []byte(testSecret), []string{"host", "content-type"}, ts, nonce)
	return r
}

func TestSignedRequests(t *testing.T) {
	clk := newClock()
	s := signedStage(t, clk)
	body := `{"amount":100}`
	now := clk.Now()

	d, err, x := run(t, s, signedRequest(body, now, "nonce-0001"))
	if d != nil || err != nil || x.Principal == nil || x.Principal.ID != "partner" || x.Principal.Kind != "signature" {
		t.Fatalf("correct request: got %v %v %+v, want partner", rule(d), err, x.Principal)
	}

	cases := []struct {
		name string
		req  func() *http.Request
		rule string
	}{
		{"replay of the same request", func() *http.Request { return signedRequest(body, now, "nonce-0001") }, "authn.signature.replay"},
		{"tampered body", func() *http.Request {
			r := signedRequest(body, now, "nonce-0002")
			r.Body = http.NoBody
			r2 := httptest.NewRequest("POST", r.RequestURI, strings.NewReader(`{"amount":100000}`))
			r2.Header = r.Header
			return r2
		}, "authn.signature.digest"},
		{"tampered body with a matching digest", func() *http.Request {
			r := signedRequest(body, now, "nonce-0003")
			evil := `{"amount":9999}`
			r2 := httptest.NewRequest("POST", r.RequestURI, strings.NewReader(evil))
			r2.Header = r.Header
			r2.Header.Set("Content-Digest", ContentDigest([]byte(evil)))
			return r2
		}, "authn.signature.mismatch"},
		{"tampered signed header", func() *http.Request {
			r := signedRequest(body, now, "nonce-0004")
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, "authn.signature.mismatch"},
		{"tampered query", func() *http.Request {
			r := signedRequest(body, now, "nonce-0005")
			r2 := httptest.NewRequest("POST", "/payments?currency=USD&x=1", strings.NewReader(body))
			r2.Header = r.Header
			return r2
		}, "authn.signature.mismatch"},
		{"stale timestamp", func() *http.Request { return signedRequest(body, now.Add(-6*time.Minute), "nonce-0006") }, "authn.signature.stale"},
		{"timestamp from the future", func() *http.Request { return signedRequest(body, now.Add(6*time.Minute), "nonce-0007") }, "authn.signature.stale"},
		{"unknown key", func() *http.Request {
			r := signedRequest(body, now, "nonce-0008")
			r.Header.Set("Signature", strings.Replace(r.Header.Get("Signature"), "partner-1", "partner-2", 1))
			return r
		}, "authn.signature.key"},
		{"required header not signed", func() *http.Request {
			r := httptest.NewRequest("POST", "/payments", strings.NewReader(body))
			SignRequest(r, []byte(body), "partner-1", []byte(testSecret), []string{"host"}, now, "nonce-0009")
			return r
		}, "authn.signature.headers"},
		{"malformed header", func() *http.Request {
			r := signedRequest(body, now, "nonce-0010")
			r.Header.Set("Signature", `keyId="partner-1"`)
			return r
		}, "authn.signature.malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err, _ := run(t, s, tc.req())
			if err != nil || rule(d) != tc.rule {
				t.Fatalf("got %q %v, want %q", rule(d), err, tc.rule)
			}
			if d.Status != http.StatusUnauthorized || !strings.HasPrefix(d.Headers.Get("WWW-Authenticate"), `Signature realm="pay"`) {
				t.Errorf("got %d %q, want 401 with a Signature challenge", d.Status, d.Headers.Get("WWW-Authenticate"))
			}
		})
	}

	// Once the nonce has aged out, the stale check still refuses a replay.
	clk.Add(11 * time.Minute)
	if d, _, _ := run(t, s, signedRequest(body, now, "nonce-0001")); rule(d) != "authn.signature.stale" {
		t.Fatalf("late replay: got %q, want authn.signature.stale", rule(d))
	}
}

func FuzzParseSignatureHeader(f *testing.F) {
	f.Add(`keyId="k", ts="1700000000", nonce="abcdefgh", headers="host content-type", sig="AAAA"`)
	f.Add(`keyId=k,ts=1,nonce=12345678,headers=,sig=`)
	f.Add(`keyId="k", keyId="j"`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseSignatureHeader(s)
		if err == nil && (len(p.nonce) < 8 || p.keyID == "" && !strings.Contains(s, "keyId")) {
			t.Fatalf("accepted %q as %+v", s, p)
		}
	})
}

func TestMTLSIdentity(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "billing-service"},
		DNSNames: []string{"billing.internal"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	cases := []struct {
		name, identity string
		state          *tls.ConnectionState
		wantID, rule   string
	}{
		{"verified, cn", "cn", &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}, VerifiedChains: [][]*x509.Certificate{{cert}}}, "billing-service", ""},
		{"verified, san-dns", "san-dns", &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}, VerifiedChains: [][]*x509.Certificate{{cert}}}, "billing.internal", ""},
		{"no usable SAN", "san-uri", &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}, VerifiedChains: [][]*x509.Certificate{{cert}}}, "", "authn.mtls.identity"},
		{"presented but not verified", "cn", &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}, "", "authn.mtls.unverified"},
		{"no certificate", "cn", &tls.ConnectionState{}, "", "authn.missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(&Config{Methods: []Method{{MTLS: &MTLSConfig{Identity: tc.identity}}}},
				Options{API: "a", ConnState: func(*http.Request) *tls.ConnectionState { return tc.state }})
			if err != nil {
				t.Fatal(err)
			}
			d, err, x := run(t, s, httptest.NewRequest("GET", "/", nil))
			if err != nil || rule(d) != tc.rule {
				t.Fatalf("got %q %v, want %q", rule(d), err, tc.rule)
			}
			if tc.wantID != "" && (x.Principal == nil || x.Principal.ID != tc.wantID) {
				t.Fatalf("got principal %+v, want %s", x.Principal, tc.wantID)
			}
		})
	}
}
