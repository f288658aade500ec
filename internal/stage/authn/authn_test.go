package authn

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
)

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// keyFixture writes a keys file with one key per owner and returns the
// secrets by owner.
func keyFixture(t *testing.T, now time.Time, owners ...string) (string, *KeyFile, map[string]string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.yaml")
	kf := &KeyFile{}
	secrets := map[string]string{}
	for _, o := range owners {
		s, k, err := NewKey(o, now)
		if err != nil {
			t.Fatal(err)
		}
		k.Scopes, k.Roles, k.Tier = []string{"orders:read"}, []string{"user"}, "gold"
		kf.Keys = append(kf.Keys, k)
		secrets[o] = s
	}
	if err := kf.Save(path); err != nil {
		t.Fatal(err)
	}
	return path, kf, secrets
}

func withKey(key string) *http.Request {
	r := httptest.NewRequest("GET", "/orders", nil)
	r.Header.Set("X-Api-Key", key)
	return r
}

func TestAPIKeys(t *testing.T) {
	clk := newClock()
	path, kf, sec := keyFixture(t, clk.Now(), "alice", "bob", "carol", "dave", "erin")

	// Hashes only on disk: no secret (nor its random part) is in the file.
	disk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for o, s := range sec {
		_, secretPart, _ := strings.Cut(strings.TrimPrefix(s, KeyPrefix), "_")
		if bytes.Contains(disk, []byte(s)) || bytes.Contains(disk, []byte(secretPart)) {
			t.Fatalf("the keys file contains %s's secret", o)
		}
	}
	if !bytes.Contains(disk, []byte("sha256:")) {
		t.Fatalf("the keys file has no hashes:\n%s", disk)
	}

	past := clk.Now().Add(-time.Minute)
	kf.Find(must(SplitKey(sec["bob"]))).Revoked = &past
	kf.Find(must(SplitKey(sec["carol"]))).Expires = &past
	kf.Find(must(SplitKey(sec["dave"]))).CIDRs = []string{"10.0.0.0/8"}
	if err := kf.Save(path); err != nil {
		t.Fatal(err)
	}
	s, err := New(&Config{Methods: []Method{{APIKey: &APIKeyConfig{File: path, Query: "api_key"}}}}, Options{API: "shop", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret := sec["alice"][:len(sec["alice"])-4] + "AAAA"
	cases := []struct {
		name   string
		req    *http.Request
		rule   string
		status int
	}{
		{"valid key", withKey(sec["alice"]), "", 0},
		{"valid key in the query", httptest.NewRequest("GET", "/orders?api_key="+url.QueryEscape(sec["erin"])+"&x=1", nil), "", 0},
		{"missing", httptest.NewRequest("GET", "/orders", nil), "authn.missing", 401},
		{"malformed", withKey("hunter2"), "authn.apikey.malformed", 401},
		{"unknown id", withKey("pk_000000000000_" + strings.Repeat("A", 43)), "authn.apikey.invalid", 401},
		{"wrong secret", withKey(wrongSecret), "authn.apikey.invalid", 401},
		{"revoked", withKey(sec["bob"]), "authn.apikey.revoked", 401},
		{"expired", withKey(sec["carol"]), "authn.apikey.expired", 401},
		{"outside its CIDRs", withKey(sec["dave"]), "authn.apikey.cidr", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := pipeline.NewExchange(tc.req, "r", clk.Now())
			x.ClientIP = netip.MustParseAddr("192.0.2.1")
			d, err := s.Request(context.Background(), x)
			if err != nil {
				t.Fatal(err)
			}
			if rule(d) != tc.rule {
				t.Fatalf("got rule %q, want %q", rule(d), tc.rule)
			}
			if d == nil {
				if x.Principal == nil || x.Principal.Kind != "apikey" || x.Principal.Attributes["tier"] != "gold" {
					t.Fatalf("got principal %+v, want an apikey principal with tier gold", x.Principal)
				}
				if tc.req.Header.Get("X-Api-Key") != "" || tc.req.URL.Query().Has("api_key") {
					t.Errorf("the key was not removed before proxying")
				}
				if got := x.UpstreamHeader.Get(HeaderTier); got != "gold" {
					t.Errorf("got tier header %q, want gold", got)
				}
				return
			}
			if d.Status != tc.status {
				t.Errorf("got status %d, want %d", d.Status, tc.status)
			}
			if tc.status == 401 && !strings.HasPrefix(d.Headers.Get("WWW-Authenticate"), `ApiKey realm="shop"`) {
				t.Errorf("got WWW-Authenticate %q, want an ApiKey challenge", d.Headers.Get("WWW-Authenticate"))
			}
			for _, v := range sec {
				if strings.Contains(d.Detail+d.Location+d.Reason, v) {
					t.Errorf("a key leaked into the denial")
				}
			}
		})
	}

	// From inside its CIDRs dave's key works.
	x := pipeline.NewExchange(withKey(sec["dave"]), "r", clk.Now())
	x.ClientIP = netip.MustParseAddr("10.1.2.3")
	if d, err := s.Request(context.Background(), x); d != nil || err != nil {
		t.Fatalf("dave from 10.1.2.3: got %v %v, want accepted", rule(d), err)
	}
}

func must(s string, ok bool) string {
	if !ok {
		panic("bad key")
	}
	return s
}

func TestAPIKeyRotationGraceAndReload(t *testing.T) {
	clk := newClock()
	path, kf, sec := keyFixture(t, clk.Now(), "alice")
	s, err := New(&Config{Methods: []Method{{APIKey: &APIKeyConfig{File: path, ReloadInterval: time.Second}}}}, Options{API: "shop", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	old := sec["alice"]
	newSecret, nk, err := kf.Rotate(must(SplitKey(old)), time.Hour, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if nk.RotatedFrom != must(SplitKey(old)) || nk.Owner != "alice" || nk.Tier != "gold" {
		t.Fatalf("rotated key: got %+v, want alice's attributes and rotated_from", nk)
	}
	if err := kf.Save(path); err != nil {
		t.Fatal(err)
	}
	// The file is re-read once the reload interval has passed.
	if d, _, _ := run(t, s, withKey(newSecret)); rule(d) != "authn.apikey.invalid" {
		t.Fatalf("new key before the reload check: got %q, want authn.apikey.invalid", rule(d))
	}
	clk.Add(2 * time.Second)
	for _, k := range []string{old, newSecret} {
		if d, err, _ := run(t, s, withKey(k)); d != nil || err != nil {
			t.Fatalf("within the grace period: got %v %v, want both keys accepted", rule(d), err)
		}
	}
	clk.Add(time.Hour)
	if d, _, _ := run(t, s, withKey(old)); rule(d) != "authn.apikey.rotated" {
		t.Fatalf("old key after the grace period: got %q, want authn.apikey.rotated", rule(d))
	}
	if d, err, _ := run(t, s, withKey(newSecret)); d != nil || err != nil {
		t.Fatalf("new key after the grace period: got %v %v, want accepted", rule(d), err)
	}

	// A broken file keeps the previous keys.
	writeFile(t, path, "keys: [ {id: x, hash: nothex} ]\n")
	clk.Add(2 * time.Second)
	if d, err, _ := run(t, s, withKey(newSecret)); d != nil || err != nil {
		t.Fatalf("after a broken file: got %v %v, want previous keys kept", rule(d), err)
	}
}

func TestPrincipalHeadersAreStrippedAndPathsOptional(t *testing.T) {
	clk := newClock()
	path, _, sec := keyFixture(t, clk.Now(), "alice")
	s, err := New(&Config{
		Optional:      true,
		RequiredPaths: []string{"/users/*", "/orders", "GET /admin"},
		Methods:       []Method{{APIKey: &APIKeyConfig{File: path}}},
		Forward:       Forward{Roles: "X-User-Roles"},
	}, Options{API: "shop", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, path, key, rule string
	}{
		{"anonymous on an optional API", "GET", "/pets", "", ""},
		{"anonymous on a required prefix", "GET", "/users/bob", "", "authn.missing"},
		{"anonymous on a required path", "POST", "/orders", "", "authn.missing"},
		{"required only for GET", "POST", "/admin", "", ""},
		{"a wrong key is refused even where optional", "GET", "/pets", "pk_abc_" + strings.Repeat("x", 30), "authn.apikey.invalid"},
		{"a key on a required path", "GET", "/users/alice", sec["alice"], ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			r.Header.Set("X-Principal-Id", "admin")
			r.Header.Set("X-Principal-Whatever", "x")
			r.Header.Set("X-User-Roles", "admin")
			// Spellings a WSGI/CGI upstream reads as the same headers.
			r.Header["X-Principal_Id"] = []string{"admin"}
			r.Header["x.principal.id"] = []string{"admin"}
			r.Header["X_User_Roles"] = []string{"admin"}
			if tc.key != "" {
				r.Header.Set("X-Api-Key", tc.key)
			}
			d, err, x := run(t, s, r)
			if err != nil || rule(d) != tc.rule {
				t.Fatalf("got %q %v, want %q", rule(d), err, tc.rule)
			}
			wantID := ""
			if x.Principal != nil {
				wantID = x.Principal.ID
			}
			for k := range r.Header {
				if key := pipeline.HeaderKey(k); strings.HasPrefix(key, "x-principal-") || key == "x-user-roles" {
					t.Errorf("client header %q was not stripped", k)
				}
			}
			if got := x.UpstreamHeader.Get("X-Principal-Id"); got != wantID {
				t.Errorf("forwarded X-Principal-Id: got %q, want %q", got, wantID)
			}
			if got, want := x.UpstreamHeader.Get("X-User-Roles"), strings.Join(principalRoles(x), ","); got != want {
				t.Errorf("X-User-Roles: got %q, want %q", got, want)
			}
		})
	}
}

func principalRoles(x *pipeline.Exchange) []string {
	if x.Principal == nil {
		return nil
	}
	return x.Principal.Roles
}

func TestIntrospection(t *testing.T) {
	clk := newClock()
	var calls atomic.Int64
	var up atomic.Bool
	up.Store(true)
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if !up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		id, secret, ok := r.BasicAuth()
		if !ok || id != "gateway" || secret != "s3cret" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		_ = r.ParseForm()
		resp := map[string]any{"active": false}
		switch r.PostForm.Get("token") {
		case "good-token":
			resp = map[string]any{"active": true, "sub": "alice", "scope": "orders:read", "roles": []string{"user"},
				"exp": clk.Now().Add(90 * time.Second).Unix(), "aud": "orders-api"}
		case "other-aud":
			resp = map[string]any{"active": true, "sub": "alice", "aud": "billing"}
		}
		_ = json.NewEncoder(w).Encode(resp)
	}))
	defer as.Close()
	secretFile := filepath.Join(t.TempDir(), "secret")
	writeFile(t, secretFile, "s3cret\n")
	resolve := func(s string) (string, error) {
		if name, ok := strings.CutPrefix(s, "file:"); ok {
			b, err := os.ReadFile(name)
			return strings.TrimSpace(string(b)), err
		}
		return s, nil
	}
	mk := func(mode string) *Stage {
		s, err := New(&Config{FailMode: mode, Methods: []Method{{Introspection: &IntrospectionConfig{
			URL: as.URL, ClientID: "gateway", ClientSecret: "file:" + secretFile, Audience: []string{"orders-api"},
		}}}}, Options{API: "orders", Now: clk.Now, ResolveSecret: resolve})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := mk("")
	for i := range 3 {
		d, err, x := run(t, s, bearer("good-token"))
		if d != nil || err != nil || x.Principal == nil || x.Principal.ID != "alice" || x.Principal.Kind != "introspection" {
			t.Fatalf("use %d: got %v %v %+v, want alice", i, rule(d), err, x.Principal)
		}
	}
	if got := calls.Load(); got != 1 {
		t.Fatalf("calls for three uses of one token: got %d, want 1 (cached)", got)
	}
	// The cache never outlives the token's exp (90s, below the 5m max).
	clk.Add(91 * time.Second)
	_, _, _ = run(t, s, bearer("good-token"))
	if got := calls.Load(); got != 2 {
		t.Fatalf("calls after the token's exp: got %d, want 2", got)
	}
	for _, tok := range []string{"bad-token", "other-aud"} {
		for range 2 {
			if d, _, _ := run(t, s, bearer(tok)); rule(d) != "authn.introspection.inactive" {
				t.Fatalf("%s: got %q, want authn.introspection.inactive", tok, rule(d))
			}
		}
	}
	if got := calls.Load(); got != 4 {
		t.Fatalf("calls after two bad tokens used twice: got %d, want 4 (negative cache)", got)
	}

	up.Store(false)
	t.Run("down, fail closed", func(t *testing.T) {
		d, err, _ := run(t, mk("closed"), bearer("fresh-token"))
		if err == nil || d != nil {
			t.Fatalf("got %v %v, want an error", rule(d), err)
		}
		if strings.Contains(err.Error(), "fresh-token") {
			t.Errorf("the token leaked into the error: %v", err)
		}
	})
	t.Run("down, fail open", func(t *testing.T) {
		d, err, x := run(t, mk("open"), bearer("fresh-token"))
		if err != nil || d != nil || x.Principal != nil || len(x.Failures()) != 1 {
			t.Fatalf("got %v %v %v, want anonymous and a recorded failure", rule(d), err, x.Principal)
		}
	})
	t.Run("down, cached answers still work", func(t *testing.T) {
		clk.Add(-91 * time.Second) // back to when good-token was cached again
		if d, err, _ := run(t, s, bearer("good-token")); d != nil || err != nil {
			t.Fatalf("got %v %v, want the cached answer", rule(d), err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		c    Config
		want string
	}{
		{"no methods", Config{}, "methods: at least one method"},
		{"two kinds in one method", Config{Methods: []Method{{APIKey: &APIKeyConfig{File: "k"}, MTLS: &MTLSConfig{}}}}, "methods[0]: each method sets exactly one"},
		{"alg none", Config{Methods: []Method{{JWT: &JWTConfig{JWKSURL: "https://x/jwks", Algorithms: []string{"none"}}}}}, `methods[0].jwt.algorithms[0]: "none" is never accepted`},
		{"HS256 without a key file", Config{Methods: []Method{{JWT: &JWTConfig{JWKSURL: "https://x/jwks", Algorithms: []string{"HS256"}}}}}, "methods[0].jwt.algorithms[0]: HS256 needs a symmetric key"},
		{"no key source", Config{Methods: []Method{{JWT: &JWTConfig{}}}}, "methods[0].jwt.jwks_url: one of"},
		{"discovery without issuer", Config{Methods: []Method{{JWT: &JWTConfig{Discovery: true}}}}, "methods[0].jwt.issuer"},
		{"bad fail mode", Config{FailMode: "sideways", Methods: []Method{{MTLS: &MTLSConfig{}}}}, "fail_mode"},
		{"bad path", Config{OptionalPaths: []string{"pets"}, Methods: []Method{{MTLS: &MTLSConfig{}}}}, "optional_paths[0]"},
		{"short signature secret", Config{Methods: []Method{{Signature: &SignatureConfig{Keys: []SignatureKey{{ID: "k", Secret: "short"}}}}}}, "methods[0].signature.keys[0].secret"},
		{"apikey without a source", Config{Methods: []Method{{APIKey: &APIKeyConfig{}}}}, "methods[0].apikey.file"},
		{"introspection without url", Config{Methods: []Method{{Introspection: &IntrospectionConfig{}}}}, "methods[0].introspection.url"},
		{"valid", Config{Methods: []Method{{MTLS: &MTLSConfig{Identity: "san-dns"}}}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.c.Validate()
			got := ""
			if len(l) > 0 {
				got = l[0].Error()
			}
			if tc.want == "" && got != "" || !strings.HasPrefix(got, tc.want) {
				t.Fatalf("got %q, want prefix %q", got, tc.want)
			}
		})
	}
}

func FuzzSplitKey(f *testing.F) {
	f.Add("pk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("pk__x")
	f.Add("pk_ABC_def")
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := SplitKey(s)
		if ok && (!strings.HasPrefix(s, KeyPrefix+id+"_") || id == "") {
			t.Fatalf("SplitKey(%q) = %q", s, id)
		}
	})
}

// TestForwardDefaults: by default the upstream gets the principal's id,
// kind and tier, not its scopes and roles (a client's copies of those are
// stripped all the same); naming a header sends them.
func TestForwardDefaults(t *testing.T) {
	clk := newClock()
	path, _, sec := keyFixture(t, clk.Now(), "alice")
	for _, tc := range []struct {
		name string
		fwd  Forward
		want map[string]string
	}{
		{"defaults", Forward{}, map[string]string{
			"X-Principal-Id": "alice", "X-Principal-Kind": "apikey", "X-Principal-Tier": "gold",
			"X-Principal-Scopes": "", "X-Principal-Roles": ""}},
		{"scopes and roles named", Forward{Scopes: "X-Principal-Scopes", Roles: "x-principal-roles", Kind: "-"}, map[string]string{
			"X-Principal-Id": "alice", "X-Principal-Kind": "", "X-Principal-Tier": "gold",
			"X-Principal-Scopes": "orders:read", "X-Principal-Roles": "user"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(&Config{Methods: []Method{{APIKey: &APIKeyConfig{File: path}}}, Forward: tc.fwd},
				Options{API: "shop", Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			r := withKey(sec["alice"])
			r.Header.Set("X-Principal-Scopes", "admin:all") // spoofed
			r.Header.Set("X-Principal-Roles", "admin")
			d, err, x := run(t, s, r)
			if d != nil || err != nil {
				t.Fatalf("got %v %v, want accepted", rule(d), err)
			}
			for h, want := range tc.want {
				if got := x.UpstreamHeader.Get(h); got != want {
					t.Errorf("%s: got %q, want %q", h, got, want)
				}
				if got := r.Header.Get(h); got != "" {
					t.Errorf("client's %s kept: %q", h, got)
				}
			}
		})
	}
}
