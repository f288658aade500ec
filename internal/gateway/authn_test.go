package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/portcullis/portcullis/internal/stage/authn"
)

// TestAuthnThroughTheGateway runs API keys and JWTs (from a JWKS server)
// through the real gateway: denials are problem documents with
// WWW-Authenticate and events without credentials, the principal reaches
// the upstream in headers a client cannot spoof, and the key does not.
func TestAuthnThroughTheGateway(t *testing.T) {
	up := &recorder{}
	ts := httptest.NewServer(up)
	defer ts.Close()

	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := jwk.Import(priv)
	_ = key.Set(jwk.KeyIDKey, "k1")
	pub, _ := key.PublicKey()
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set := jwk.NewSet()
		_ = set.AddKey(pub)
		_ = json.NewEncoder(w).Encode(set)
	}))
	defer idp.Close()
	sign := func(claims map[string]any) string {
		b, _ := json.Marshal(claims)
		tok, err := jws.Sign(b, jws.WithKey(jwa.ES256(), key))
		if err != nil {
			t.Fatal(err)
		}
		return string(tok)
	}

	keysFile := filepath.Join(t.TempDir(), "keys.yaml")
	secret, k, _ := authn.NewKey("alice", time.Now())
	k.Roles, k.Tier = []string{"user"}, "gold"
	if err := (&authn.KeyFile{Keys: []*authn.Key{k}}).Save(keysFile); err != nil {
		t.Fatal(err)
	}

	cfg := baseConfig(ts.URL)
	cfg.APIs[0].Stages.Set(&authn.Config{
		OptionalPaths: []string{"/public/*"},
		Methods: []authn.Method{
			{APIKey: &authn.APIKeyConfig{File: keysFile}},
			{JWT: &authn.JWTConfig{JWKSURL: idp.URL, Issuer: "https://idp", Audience: []string{"api"}}},
		},
	})
	tg := start(t, cfg)

	now := time.Now()
	good := sign(map[string]any{"iss": "https://idp", "aud": "api", "sub": "bob", "exp": now.Add(time.Hour).Unix(), "scope": "a b"})
	expired := sign(map[string]any{"iss": "https://idp", "aud": "api", "sub": "bob", "exp": now.Add(-time.Hour).Unix()})
	cases := []struct {
		name, path string
		headers    map[string]string
		status     int
		challenge  string
		principal  string
	}{
		{"no credential", "/orders", nil, 401, `ApiKey realm="test", header="X-Api-Key"`, ""},
		{"anonymous on an optional path", "/public/x", map[string]string{"X-Principal-Id": "admin"}, 200, "", ""},
		{"api key", "/orders", map[string]string{"X-Api-Key": secret, "X-Principal-Id": "admin"}, 200, "", "alice"},
		{"bad api key", "/orders", map[string]string{"X-Api-Key": secret + "x"}, 401, `ApiKey realm="test"`, ""},
		{"jwt", "/orders", map[string]string{"Authorization": "Bearer " + good}, 200, "", "bob"},
		{"expired jwt", "/orders", map[string]string{"Authorization": "Bearer " + expired}, 401,
			`Bearer realm="test", error="invalid_token", error_description="the token has expired"`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			req, _ := http.NewRequest("GET", tg.base+tc.path, nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			if tc.status == 401 {
				if got := resp.Header.Get("Www-Authenticate"); !strings.HasPrefix(got, tc.challenge) {
					t.Errorf("got WWW-Authenticate %q, want prefix %q", got, tc.challenge)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("got Content-Type %q, want application/problem+json", ct)
				}
				if up.count() != before {
					t.Errorf("a denied request reached the upstream")
				}
				return
			}
			last := up.last()
			if got := last.Header.Get("X-Principal-Id"); got != tc.principal {
				t.Errorf("upstream X-Principal-Id: got %q, want %q", got, tc.principal)
			}
			if last.Header.Get("X-Api-Key") != "" {
				t.Errorf("the API key reached the upstream")
			}
			if tc.principal == "alice" && last.Header.Get("X-Principal-Tier") != "gold" {
				t.Errorf("upstream X-Principal-Tier: got %q, want gold", last.Header.Get("X-Principal-Tier"))
			}
		})
	}

	tg.flush(t)
	var rules []string
	for _, e := range tg.sink.all() {
		raw, _ := json.Marshal(e)
		if strings.Contains(string(raw), secret) || strings.Contains(string(raw), expired) {
			t.Errorf("a credential leaked into an event: %s", raw)
		}
		if e.Stage == "authn" {
			rules = append(rules, strings.Join(e.Rules, ","))
		}
	}
	if got, want := strings.Join(rules, " "), "authn.missing authn.apikey.invalid authn.jwt.expired"; got != want {
		t.Errorf("authn events: got %q, want %q", got, want)
	}
	if strings.Contains(tg.access.String(), secret) || strings.Contains(tg.access.String(), good) {
		t.Errorf("a credential leaked into the access log")
	}
}
