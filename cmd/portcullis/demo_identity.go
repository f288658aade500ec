package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/stage/authn"
)

// The demo's identities: three users, each with a fixed API key (so the
// printed curls stay the same from run to run) and a JWT signed by a key
// generated when the demo starts. These keys are published here on
// purpose: they only ever open the demo.
const (
	demoIssuer   = "https://demo.portcullis.dev"
	demoAudience = "demo"
	demoKid      = "demo-1"
)

// demoUser is one demo identity.
type demoUser struct {
	ID     string
	Key    string // API key
	Roles  []string
	Scopes []string
}

// demoUsers are the demo's users, matching the demo API's users.
var demoUsers = []demoUser{
	{ID: "alice", Key: "pk_a11ce0000001_demo-key-of-alice-not-a-secret", Roles: []string{"user"}, Scopes: []string{"pets:read", "orders:read", "orders:write"}},
	{ID: "bob", Key: "pk_b0b000000002_demo-key-of-bob-not-a-secret", Roles: []string{"user"}, Scopes: []string{"pets:read", "orders:read", "orders:write"}},
	{ID: "admin", Key: "pk_ad0000000003_demo-key-of-admin-not-a-secret", Roles: []string{"admin"}, Scopes: []string{"pets:read", "pets:write", "orders:read", "orders:write", "users:read"}},
	// scraper is a partner's key that reads the catalogue; the detection
	// demo (demo_detect.go) makes it multiply its usual volume.
	{ID: "scraper", Key: "pk_5c4a9e000004_demo-key-of-a-scraper-not-a-secret", Roles: []string{"user"}, Scopes: []string{"pets:read"}},
}

// demoIdentity is a running demo's signing key.
type demoIdentity struct {
	key jwk.Key // private, ES256
}

var (
	demoIdentitiesMu sync.Mutex
	demoIdentities   = map[*demoEnv]*demoIdentity{}
)

// demoAPIKey returns the demo API key of user ("alice", "bob", "admin" or
// "scraper"),
// or "" for an unknown user.
func demoAPIKey(user string) string {
	for _, u := range demoUsers {
		if u.ID == user {
			return u.Key
		}
	}
	return ""
}

// demoToken returns a JWT for user, valid for an hour, signed by the
// running demo's key (accepted by its gateway). It returns "" when the
// demo has no identity configured or the user is unknown.
func demoToken(env *demoEnv, user string) string {
	demoIdentitiesMu.Lock()
	id := demoIdentities[env]
	demoIdentitiesMu.Unlock()
	if id == nil {
		return ""
	}
	for _, u := range demoUsers {
		if u.ID == user {
			tok, err := signDemoToken(id.key, u, time.Now())
			if err != nil {
				return ""
			}
			return tok
		}
	}
	return ""
}

// demoForgedToken returns a token for user that names the demo's key id
// but is signed by another key: the gateway must refuse it.
func demoForgedToken(user string) string {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return ""
	}
	k, err := jwk.Import(priv)
	if err != nil {
		return ""
	}
	_ = k.Set(jwk.KeyIDKey, demoKid)
	for _, u := range demoUsers {
		if u.ID == user {
			tok, _ := signDemoToken(k, u, time.Now())
			return tok
		}
	}
	return ""
}

func signDemoToken(key jwk.Key, u demoUser, now time.Time) (string, error) {
	claims, err := json.Marshal(map[string]any{
		"iss": demoIssuer, "aud": demoAudience, "sub": u.ID,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"roles": u.Roles, "scope": strings.Join(u.Scopes, " "),
	})
	if err != nil {
		return "", err
	}
	b, err := jws.Sign(claims, jws.WithKey(jwa.ES256(), key))
	return string(b), err
}

// demoAuthn writes the demo's keys file and JWKS into dir and returns the
// authn block: API keys in X-Api-Key or bearer JWTs; anonymous calls are
// allowed except on /users and /orders, so the foundation's checks (which
// send no credentials to /pets) keep their answers.
func demoAuthn(dir string) (*authn.Config, *demoIdentity, error) {
	kf := &authn.KeyFile{}
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, u := range demoUsers {
		id, _ := authn.SplitKey(u.Key)
		kf.Keys = append(kf.Keys, &authn.Key{ID: id, Owner: u.ID, Roles: u.Roles, Scopes: u.Scopes,
			Tier: "demo", Hash: authn.HashKey(u.Key), Created: created})
	}
	keysFile := filepath.Join(dir, "keys.yaml")
	if err := kf.Save(keysFile); err != nil {
		return nil, nil, err
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("demo signing key: %w", err)
	}
	key, err := jwk.Import(priv)
	if err != nil {
		return nil, nil, err
	}
	_ = key.Set(jwk.KeyIDKey, demoKid)
	_ = key.Set(jwk.AlgorithmKey, jwa.ES256())
	pub, err := key.PublicKey()
	if err != nil {
		return nil, nil, err
	}
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	b, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	jwksFile := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksFile, b, 0o644); err != nil {
		return nil, nil, err
	}
	return &authn.Config{
		Optional:      true,
		RequiredPaths: []string{"/users", "/users/*", "/orders", "/orders/*"},
		Methods: []authn.Method{
			{APIKey: &authn.APIKeyConfig{File: keysFile}},
			{JWT: &authn.JWTConfig{KeyFiles: []string{jwksFile}, Issuer: demoIssuer, Audience: []string{demoAudience}}},
		},
	}, &demoIdentity{key: key}, nil
}

func init() {
	// The authorization demo (demo_authz.go) authenticates its users with
	// the demo API keys.
	demoCredential = func(_ *demoEnv, user string) [2]string { return [2]string{"X-Api-Key", demoAPIKey(user)} }

	demoFeatures = append(demoFeatures, demoFeature{
		Name: "identity",
		Configure: func(cfg *config.Config, env *demoEnv) error {
			for i := range cfg.APIs {
				if cfg.APIs[i].Name != "demo" || config.BlockOf[authn.Config](cfg.APIs[i].Stages) != nil {
					continue
				}
				c, id, err := demoAuthn(env.dataDir)
				if err != nil {
					return err
				}
				cfg.APIs[i].Stages.Set(c)
				demoIdentitiesMu.Lock()
				demoIdentities[env] = id
				demoIdentitiesMu.Unlock()
			}
			return nil
		},
		Checks: func(env *demoEnv) []demoCheck {
			key := func(user string) [][2]string { return [][2]string{{"X-Api-Key", demoAPIKey(user)}} }
			tok := func(t string) [][2]string { return [][2]string{{"Authorization", "Bearer " + t}} }
			return []demoCheck{
				{Title: "authn: no credential on /users (401, WWW-Authenticate)", Method: "GET", Path: "/users/alice", Expect: 401},
				{Title: "authn: a spoofed X-Principal-Id without a credential", Method: "GET", Path: "/users/alice",
					Headers: [][2]string{{"X-Principal-Id", "admin"}}, Expect: 401},
				{Title: "authn: alice's API key", Method: "GET", Path: "/users/alice", Headers: key("alice"), Expect: 200},
				{Title: "authn: a made-up API key", Method: "GET", Path: "/users/alice",
					Headers: [][2]string{{"X-Api-Key", "pk_000000000000_made-up-key-made-up-key"}}, Expect: 401},
				{Title: "authn: bob's JWT (signed by the demo's key)", Method: "GET", Path: "/users/bob", Headers: tok(demoToken(env, "bob")), Expect: 200},
				{Title: "authn: a forged JWT (right kid, wrong key)", Method: "GET", Path: "/users/bob", Headers: tok(demoForgedToken("bob")), Expect: 401},
			}
		},
	})
}
