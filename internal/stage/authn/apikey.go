package authn

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
)

// KeyPrefix starts every API key. A recognisable prefix lets secret
// scanners (and people) spot a leaked key.
const KeyPrefix = "pk_"

// Key is one API key record, as stored in a keys file or in the store. It
// never holds the secret, only its hash.
type Key struct {
	// ID is the public part of the key (12 hex characters); the key reads
	// pk_<id>_<secret>, so the record is found without scanning.
	ID string `yaml:"id" json:"id"`
	// Owner becomes the principal id ("alice", "billing-service").
	Owner string `yaml:"owner" json:"owner"`
	// Scopes of the principal.
	Scopes []string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
	// Roles of the principal.
	Roles []string `yaml:"roles,omitempty" json:"roles,omitempty"`
	// Tier is the rate-limit tier ("free", "gold"); "" means none.
	Tier string `yaml:"tier,omitempty" json:"tier,omitempty"`
	// CIDRs, when set, are the only client addresses the key works from
	// (others get 403).
	CIDRs []string `yaml:"cidrs,omitempty" json:"cidrs,omitempty"`
	// Hash is "sha256:" and the hex SHA-256 of the whole key string.
	Hash string `yaml:"hash" json:"hash"`
	// Created is when the key was made.
	Created time.Time `yaml:"created" json:"created"`
	// Expires, when set, is when the key stops working.
	Expires *time.Time `yaml:"expires,omitempty" json:"expires,omitempty"`
	// Revoked, when set, is when the key was revoked; it no longer works.
	Revoked *time.Time `yaml:"revoked,omitempty" json:"revoked,omitempty"`
	// RotatedFrom is the id of the key this one replaced.
	RotatedFrom string `yaml:"rotated_from,omitempty" json:"rotated_from,omitempty"`
	// GraceUntil is set on a key that was rotated: it keeps working until
	// then, so that clients can switch to the new key.
	GraceUntil *time.Time `yaml:"grace_until,omitempty" json:"grace_until,omitempty"`

	cidrs []netip.Prefix
	hash  []byte
	// principal is the key's principal, built once by compile and shared
	// (read-only, like every principal) by the requests made with the key.
	principal *pipeline.Principal
}

// KeyFile is the keys file: a list of key records.
type KeyFile struct {
	Keys []*Key `yaml:"keys" json:"keys"`
}

// HashKey returns the stored form of a key: "sha256:" and the hex SHA-256
// of the whole key string. A plain, fast hash is right here (unlike for
// passwords) because every key carries 256 bits of randomness: there is
// nothing to guess, so nothing a slow hash would protect.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// SplitKey returns the id of a key of the form pk_<id>_<secret>.
func SplitKey(key string) (id string, ok bool) {
	rest, ok := strings.CutPrefix(key, KeyPrefix)
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) == 0 || len(id) > 64 || len(secret) < 16 {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return "", false
		}
	}
	return id, true
}

// NewKey generates a key for owner and returns the secret key string (to
// show once) and its record.
func NewKey(owner string, now time.Time) (string, *Key, error) {
	var idb [6]byte
	var sec [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", nil, fmt.Errorf("generating key id: %w", err)
	}
	if _, err := rand.Read(sec[:]); err != nil {
		return "", nil, fmt.Errorf("generating key secret: %w", err)
	}
	id := hex.EncodeToString(idb[:])
	key := KeyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(sec[:])
	return key, &Key{ID: id, Owner: owner, Hash: HashKey(key), Created: now.UTC().Truncate(time.Second)}, nil
}

// LoadKeyFile reads a keys file (YAML or JSON). A missing file is an empty
// key list.
func LoadKeyFile(path string) (*KeyFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &KeyFile{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading keys file: %w", err)
	}
	var kf KeyFile
	if err := yaml.UnmarshalWithOptions(b, &kf, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("parsing keys file %s: %w", path, err)
	}
	for i, k := range kf.Keys {
		if k == nil {
			return nil, fmt.Errorf("keys file %s: keys[%d] is empty", path, i)
		}
		if err := k.compile(); err != nil {
			return nil, fmt.Errorf("keys file %s: keys[%d]: %w", path, i, err)
		}
	}
	return &kf, nil
}

// Save writes the keys file atomically (a temporary file renamed over the
// old one) with mode 0600.
func (kf *KeyFile) Save(path string) error {
	b, err := yaml.Marshal(kf)
	if err != nil {
		return fmt.Errorf("encoding keys file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keys-*")
	if err != nil {
		return fmt.Errorf("writing keys file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("writing keys file: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing keys file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing keys file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing keys file: %w", err)
	}
	return nil
}

// Find returns the record with id, or nil.
func (kf *KeyFile) Find(id string) *Key {
	for _, k := range kf.Keys {
		if k.ID == id {
			return k
		}
	}
	return nil
}

// Revoke marks key id revoked at now.
func (kf *KeyFile) Revoke(id string, now time.Time) error {
	k := kf.Find(id)
	if k == nil {
		return fmt.Errorf("no key with id %q", id)
	}
	t := now.UTC().Truncate(time.Second)
	k.Revoked = &t
	return nil
}

// Rotate creates a new key with the same owner, scopes, roles, tier and
// CIDRs as key id, and lets the old key work for grace more. It returns
// the new key's secret string and record.
func (kf *KeyFile) Rotate(id string, grace time.Duration, now time.Time) (string, *Key, error) {
	old := kf.Find(id)
	if old == nil {
		return "", nil, fmt.Errorf("no key with id %q", id)
	}
	if old.Revoked != nil {
		return "", nil, fmt.Errorf("key %q is revoked", id)
	}
	secret, k, err := NewKey(old.Owner, now)
	if err != nil {
		return "", nil, err
	}
	k.Scopes, k.Roles, k.Tier = slices.Clone(old.Scopes), slices.Clone(old.Roles), old.Tier
	k.CIDRs, k.Expires, k.RotatedFrom = slices.Clone(old.CIDRs), old.Expires, old.ID
	until := now.UTC().Add(grace).Truncate(time.Second)
	old.GraceUntil = &until
	kf.Keys = append(kf.Keys, k)
	return secret, k, nil
}

// compile checks a record and prepares its derived fields.
func (k *Key) compile() error {
	if k.ID == "" {
		return errors.New("id is required")
	}
	hx, ok := strings.CutPrefix(k.Hash, "sha256:")
	if !ok {
		return fmt.Errorf("key %s: hash must be \"sha256:<hex>\" (keys are stored hashed, never in clear)", k.ID)
	}
	h, err := hex.DecodeString(hx)
	if err != nil || len(h) != sha256.Size {
		return fmt.Errorf("key %s: hash is not a hex SHA-256", k.ID)
	}
	k.hash = h
	if k.cidrs, err = parseCIDRs(k.CIDRs); err != nil {
		return fmt.Errorf("key %s: cidrs: %w", k.ID, err)
	}
	attrs := map[string]any{"sub": k.Owner, "key_id": k.ID, "owner": k.Owner}
	if k.Tier != "" {
		attrs["tier"] = k.Tier
	}
	k.principal = &pipeline.Principal{ID: k.Owner, Kind: "apikey", Scopes: k.Scopes, Roles: k.Roles, Attributes: attrs}
	return nil
}

// keyring holds the keys file's records and re-reads the file when its
// modification time or size changes (checked at most once per interval).
type keyring struct {
	path     string
	interval time.Duration

	keys    atomic.Pointer[map[string]*Key]
	mu      sync.Mutex // serialises checks
	checked atomic.Int64
	mod     time.Time
	size    int64
}

func newKeyring(path string, interval time.Duration, now time.Time) (*keyring, error) {
	kr := &keyring{path: path, interval: interval}
	if err := kr.load(); err != nil {
		return nil, err
	}
	kr.checked.Store(now.UnixNano())
	return kr, nil
}

func (kr *keyring) load() error {
	st, err := os.Stat(kr.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("keys file: %w", err)
	}
	kf, err := LoadKeyFile(kr.path)
	if err != nil {
		return err
	}
	m := make(map[string]*Key, len(kf.Keys))
	for _, k := range kf.Keys {
		m[k.ID] = k
	}
	kr.keys.Store(&m)
	if st != nil {
		kr.mod, kr.size = st.ModTime(), st.Size()
	} else {
		kr.mod, kr.size = time.Time{}, -1
	}
	return nil
}

// maybeReload re-reads the file if it changed. A file that fails to parse
// keeps the previous keys (and returns the error, for the log).
func (kr *keyring) maybeReload(now time.Time) error {
	last := kr.checked.Load()
	if now.UnixNano()-last < int64(kr.interval) || !kr.mu.TryLock() {
		return nil
	}
	defer kr.mu.Unlock()
	kr.checked.Store(now.UnixNano())
	st, err := os.Stat(kr.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if kr.size == -1 {
			return nil
		}
	case err != nil:
		return fmt.Errorf("keys file: %w", err)
	case st.ModTime().Equal(kr.mod) && st.Size() == kr.size:
		return nil
	}
	return kr.load()
}

func (kr *keyring) get(id string) *Key { return (*kr.keys.Load())[id] }

// apiKeyMethod authenticates API keys.
type apiKeyMethod struct {
	header, query string
	// headerLoc and queryLoc name where a key was found, for failures.
	headerLoc, queryLoc string
	keep                bool
	ring                *keyring // nil without a file
	store               store.KV
	now                 func() time.Time
	onReloadError       func(error)
}

func (m *apiKeyMethod) kind() string { return "apikey" }

func (m *apiKeyMethod) challenge(realm string) string {
	s := `ApiKey realm="` + realm + `"`
	if m.header != "" {
		s += `, header="` + m.header + `"`
	}
	return s
}

func (m *apiKeyMethod) credential(r *http.Request) (string, string) {
	if m.header != "" { // canonical (New): the map directly, as Header.Get would
		if vs := r.Header[m.header]; len(vs) > 0 && vs[0] != "" {
			return vs[0], m.headerLoc
		}
	}
	if m.query != "" {
		if v := r.URL.Query().Get(m.query); v != "" {
			return v, m.queryLoc
		}
	}
	return "", ""
}

func (m *apiKeyMethod) present(r *http.Request) bool {
	v, _ := m.credential(r)
	return v != ""
}

func (m *apiKeyMethod) authenticate(ctx context.Context, x *pipeline.Exchange) (*pipeline.Principal, *failure, error) {
	r := x.Request
	secret, loc := m.credential(r)
	if !m.keep {
		m.strip(r)
	}
	deny := func(rule, reason string) (*pipeline.Principal, *failure, error) {
		return nil, &failure{rule: rule, reason: reason, location: loc}, nil
	}
	id, ok := SplitKey(secret)
	if !ok {
		return deny("authn.apikey.malformed", "the API key is malformed")
	}
	x.Claimed = id // the account a failed attempt targeted (detectors count it)
	now := m.now()
	var k *Key
	if m.ring != nil {
		if err := m.ring.maybeReload(now); err != nil && m.onReloadError != nil {
			m.onReloadError(err)
		}
		k = m.ring.get(id)
	}
	if k == nil && m.store != nil {
		b, found, err := m.store.Get(ctx, "authn:apikey:"+id)
		if err != nil {
			return nil, nil, fmt.Errorf("looking up api key: %w", err)
		}
		if found {
			k = new(Key)
			if err := json.Unmarshal(b, k); err != nil {
				return nil, nil, fmt.Errorf("api key record %s: %w", id, err)
			}
			if err := k.compile(); err != nil {
				return nil, nil, fmt.Errorf("api key record: %w", err)
			}
		}
	}
	// The hash is compared in constant time even when the id is unknown, so
	// that timing does not tell which ids exist.
	sum := hashSecret(secret)
	want := dummyHash[:]
	if k != nil {
		want = k.hash
	}
	if subtle.ConstantTimeCompare(sum[:], want) != 1 || k == nil {
		return deny("authn.apikey.invalid", "the API key is not valid")
	}
	if k.Revoked != nil && !now.Before(*k.Revoked) {
		return deny("authn.apikey.revoked", "the API key has been revoked")
	}
	if k.Expires != nil && !now.Before(*k.Expires) {
		return deny("authn.apikey.expired", "the API key has expired")
	}
	if k.GraceUntil != nil && !now.Before(*k.GraceUntil) {
		return deny("authn.apikey.rotated", "the API key was replaced and its grace period is over")
	}
	if len(k.cidrs) > 0 && !slices.ContainsFunc(k.cidrs, func(p netip.Prefix) bool { return p.Contains(x.ClientIP.Unmap()) }) {
		return nil, &failure{rule: "authn.apikey.cidr", reason: "the API key is not allowed from this address",
			location: loc, status: http.StatusForbidden}, nil
	}
	return k.principal, nil, nil
}

// strip removes the key from the request before it is proxied.
func (m *apiKeyMethod) strip(r *http.Request) {
	if m.header != "" {
		delete(r.Header, m.header) // canonical: Header.Del without re-canonicalising
	}
	if m.query != "" && r.URL.RawQuery != "" {
		q := r.URL.Query()
		if q.Has(m.query) {
			q.Del(m.query)
			r.URL.RawQuery = q.Encode()
		}
	}
}

// dummyHash is compared against when a key id is unknown.
var dummyHash = sha256.Sum256([]byte("portcullis: no such key"))

// hashSecret is the SHA-256 of secret; a secret of usual length is hashed
// from a buffer on the stack (no allocation per request).
func hashSecret(secret string) [sha256.Size]byte {
	var b [128]byte
	if len(secret) <= len(b) {
		return sha256.Sum256(b[:copy(b[:], secret)])
	}
	return sha256.Sum256([]byte(secret))
}
