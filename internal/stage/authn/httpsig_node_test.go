package authn

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nodeSigner runs testdata/node/sign.js with the http-message-signatures
// npm package, an RFC 9421 implementation nobody here wrote, which
// scripts/test-deps.sh installs into .cache/npm.
func nodeSigner(t *testing.T) func(in map[string]any) map[string]string {
	t.Helper()
	modules, _ := filepath.Abs("../../../.cache/npm/node_modules")
	node, err := exec.LookPath("node")
	if _, serr := os.Stat(filepath.Join(modules, "http-message-signatures")); err != nil || serr != nil {
		msg := "node and .cache/npm/node_modules/http-message-signatures are needed (scripts/test-deps.sh installs them)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return func(in map[string]any) map[string]string {
		t.Helper()
		b, _ := json.Marshal(in)
		cmd := exec.Command(node, "testdata/node/sign.js")
		cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
		cmd.Stdin = bytes.NewReader(b)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("node: %v\n%s", err, stderr.String())
		}
		var h map[string]string
		if err := json.Unmarshal(out, &h); err != nil {
			t.Fatalf("node printed %s: %v", out, err)
		}
		return h
	}
}

func pemOf(t *testing.T, typ string, der []byte) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// TestRFC9421Interop: requests signed by an independent RFC 9421
// implementation (Node.js http-message-signatures) with each algorithm
// verify through the stage; tampered copies do not.
func TestRFC9421Interop(t *testing.T) {
	sign := nodeSigner(t)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaPriv, _ := rsa.GenerateKey(rand.Reader, 2048)
	secret := make([]byte, 64)
	_, _ = rand.Read(secret)
	type alg struct {
		id, name, priv, pub, algo string
	}
	pkcs8 := func(k crypto.PrivateKey) string {
		b, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemOf(t, "PRIVATE KEY", b)
	}
	pkix := func(k crypto.PublicKey) string {
		b, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemOf(t, "PUBLIC KEY", b)
	}
	algs := []alg{
		{"k-ed", "ed25519", pkcs8(edPriv), pkix(edPub), ""},
		{"k-ec", "ecdsa-p256-sha256", pkcs8(ecPriv), pkix(&ecPriv.PublicKey), ""},
		{"k-pss", "rsa-pss-sha512", pkcs8(rsaPriv), pkix(&rsaPriv.PublicKey), "rsa-pss-sha512"},
		{"k-rsa", "rsa-v1_5-sha256", pkcs8(rsaPriv), pkix(&rsaPriv.PublicKey), "rsa-v1_5-sha256"},
		{"k-hmac", "hmac-sha256", base64.StdEncoding.EncodeToString(secret), "", ""},
	}
	keys := []SignatureKey{}
	for _, a := range algs {
		k := SignatureKey{ID: a.id, Owner: "owner-" + a.id, PublicKey: a.pub, Algorithm: a.algo}
		if a.pub == "" {
			k.Secret = "base64:" + a.priv
		}
		keys = append(keys, k)
	}
	clk := newClock()
	cfg := &Config{Methods: []Method{{Signature: &SignatureConfig{Format: "rfc9421", Keys: keys}}}}
	if l := cfg.Validate(); len(l) > 0 {
		t.Fatal(l)
	}
	s, err := New(cfg, Options{API: "interop", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"amount": 100, "to": "DE89 3704 0044 0532 0130 00"}`
	sum := sha512.Sum512([]byte(body))
	digest := "sha-512=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
	for _, a := range algs {
		t.Run(a.name, func(t *testing.T) {
			url := "http://api.example.com/payments/7?currency=EUR&note=two%20words"
			h := sign(map[string]any{
				"method": "POST", "url": url, "alg": a.name, "key": a.priv, "keyid": a.id,
				"created": clk.Now().Unix(), "nonce": "nonce-" + a.id,
				"headers": map[string]string{"content-type": "application/json", "content-digest": digest},
				"fields":  []string{"@method", "@authority", "@path", "@query", "@target-uri", "content-type", "content-digest"},
			})
			build := func(method, target, b string, mutate func(http.Header)) *http.Request {
				r := httptest.NewRequest(method, target, strings.NewReader(b))
				for k, v := range h {
					r.Header.Set(k, v)
				}
				if mutate != nil {
					mutate(r.Header)
				}
				return r
			}
			d, err, x := run(t, s, build("POST", url, body, nil))
			if d != nil || err != nil || x.Principal == nil || x.Principal.ID != "owner-"+a.id {
				t.Fatalf("signed by http-message-signatures: %s %v (headers %v)", rule(d), err, h)
			}
			tampered := []struct {
				name string
				r    *http.Request
				rule string
			}{
				{"replayed", build("POST", url, body, nil), "authn.signature.replay"},
				{"another amount", build("POST", url, strings.Replace(body, "100", "900", 1), nil), "authn.signature.digest"},
				{"another currency", build("POST", strings.Replace(url, "EUR", "USD", 1), body, nil), "authn.signature.mismatch"},
				{"another path", build("POST", strings.Replace(url, "/7", "/8", 1), body, nil), "authn.signature.mismatch"},
				{"another content type", build("POST", url, body, func(h http.Header) { h.Set("Content-Type", "text/plain") }), "authn.signature.mismatch"},
			}
			for _, c := range tampered {
				if d, _, x := run(t, s, c.r); rule(d) != c.rule || x.Principal != nil {
					t.Errorf("%s: got %q, want %s", c.name, rule(d), c.rule)
				}
			}
		})
	}
}
