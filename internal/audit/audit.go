// Package audit is the tamper-evident audit log: security events and every
// admin action, one JSON record per line, each record holding the SHA-256
// of the one before it (a hash chain), with periodic checkpoints that sign
// the chain's head with an ed25519 key. Verify reads such a file back and
// names every record that was modified, deleted, inserted or moved.
//
// A record line is the JSON object
//
//	{"seq":N,"time":"...","kind":"event|admin|checkpoint|open","prev":"<hex>","data":{...},"hash":"<hex>"}
//
// where hash is the hex SHA-256 of the line's bytes up to (not including)
// `,"hash":` followed by `}`: the exact bytes written, so verification never
// depends on how a JSON encoder orders or spells things. prev is the hash of
// record N-1 (64 zeros for the first record of a file).
//
// A hash chain alone proves nothing against someone who can rewrite the
// whole file: they can recompute every hash. The checkpoints are what make
// it tamper-evident: a checkpoint signs (seq, prev) with a key the attacker
// does not have, so a rewritten chain no longer matches any signature.
// Records after the last checkpoint are only chained; Verify says how many.
package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/field"
)

// Record kinds.
const (
	// KindEvent is a security event (the data is an events.Event).
	KindEvent = "event"
	// KindAdmin is an admin action (the data is an Action).
	KindAdmin = "admin"
	// KindCheckpoint signs the chain up to the record before it (the data
	// is a Checkpoint).
	KindCheckpoint = "checkpoint"
	// KindOpen is written each time a writer opens the file: which key
	// signs its checkpoints, and whether a torn last line was cut off.
	KindOpen = "open"
)

// Defaults of Config.
const (
	// DefaultCheckpointEvery is how many records a checkpoint covers at
	// most.
	DefaultCheckpointEvery = 1000
	// DefaultCheckpointInterval is the longest time records stay unsigned.
	DefaultCheckpointInterval = time.Minute
)

// Config is the `events.audit` block.
type Config struct {
	// File is the audit log's path (appended to; created mode 0600). Default
	// "": no audit log.
	File string `yaml:"file,omitempty" json:"file,omitempty"`
	// SigningKey is the PEM file of the ed25519 private key (PKCS#8,
	// "PRIVATE KEY", as `portcullis audit keygen` or `openssl genpkey
	// -algorithm ed25519` writes it) that signs checkpoints. Required with
	// File. Keep its public half elsewhere for `portcullis audit verify
	// --public-key`.
	SigningKey string `yaml:"signing_key,omitempty" json:"signing_key,omitempty"`
	// CheckpointEvery signs the chain after this many records. Default
	// 1000; zero means the default.
	CheckpointEvery int `yaml:"checkpoint_every,omitempty" json:"checkpoint_every,omitempty"`
	// CheckpointInterval signs the chain at least this often while records
	// arrive. Default 1m; zero means the default.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval,omitempty" json:"checkpoint_interval,omitempty"`
	// Fsync flushes every batch to disk before it counts as written.
	// Default false (the OS flushes; a crash can lose the last records,
	// which Verify then reports as a missing tail only against an external
	// copy).
	Fsync bool `yaml:"fsync,omitempty" json:"fsync,omitempty"`
}

// Validate checks the block.
func (c *Config) Validate() field.List {
	var l field.List
	if c.File != "" && c.SigningKey == "" {
		l = append(l, field.Errorf("signing_key", "an audit log needs a signing key for its checkpoints (generate one: portcullis audit keygen --out audit.key)"))
	}
	if c.File == "" && c.SigningKey != "" {
		l = append(l, field.Errorf("file", "signing_key is set but file is empty (expected the audit log's path)"))
	}
	if c.CheckpointEvery < 0 {
		l = append(l, field.Errorf("checkpoint_every", "must not be negative"))
	}
	if c.CheckpointInterval < 0 {
		l = append(l, field.Errorf("checkpoint_interval", "must not be negative"))
	}
	return l
}

// Action is one admin action, as recorded in the log.
type Action struct {
	// Action names what was done: "ban.lift", "ban.extend", "config.reload",
	// "login", "login.failed", "key.create", "key.revoke".
	Action string `json:"action"`
	// Actor is who did it ("admin-token", a session id prefix, "cli").
	Actor string `json:"actor,omitempty"`
	// Remote is the client address of the admin request.
	Remote string `json:"remote,omitempty"`
	// Target is what it was done to ("ip:203.0.113.7", a key id, a file).
	Target string `json:"target,omitempty"`
	// Result is "ok" or the error.
	Result string `json:"result,omitempty"`
	// Details holds action-specific fields (new ban expiry, ...).
	Details map[string]any `json:"details,omitempty"`
}

// Checkpoint is the data of a checkpoint record.
type Checkpoint struct {
	// Seq and Hash are the record the checkpoint covers (the one just
	// before it): the chain up to and including it is signed.
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
	// Key is the hex SHA-256 of the signing public key (its id).
	Key string `json:"key"`
	// Sig is the hex ed25519 signature of SignedBytes(Seq, Hash).
	Sig string `json:"sig"`
}

// SignedBytes is what a checkpoint's signature covers.
func SignedBytes(seq uint64, hash string) []byte {
	return []byte("portcullis-audit-checkpoint\n" + strconv.FormatUint(seq, 10) + "\n" + hash + "\n")
}

// zeroHash is prev of a file's first record.
var zeroHash = hex.EncodeToString(make([]byte, sha256.Size))

// hashSuffix is what separates a record's body from its hash.
var hashSuffix = []byte(`,"hash":"`)

// line is the on-disk form of a record, hash excluded. Field order is the
// order of the bytes on disk.
type line struct {
	Seq  uint64          `json:"seq"`
	Time time.Time       `json:"time"`
	Kind string          `json:"kind"`
	Prev string          `json:"prev"`
	Data json.RawMessage `json:"data"`
}

// encode returns the record's line (newline included) and its hash.
func encode(l line) ([]byte, string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		return nil, "", err
	}
	body := bytes.TrimRight(buf.Bytes(), "\n")
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	out := make([]byte, 0, len(body)+len(hashSuffix)+len(h)+3)
	out = append(out, body[:len(body)-1]...)
	out = append(out, hashSuffix...)
	out = append(out, h...)
	out = append(out, '"', '}', '\n')
	return out, h, nil
}

// split parses one line back into its body (as hashed) and claimed hash.
func split(b []byte) (body []byte, hash string, err error) {
	b = bytes.TrimRight(b, "\r\n")
	i := bytes.LastIndex(b, hashSuffix)
	if i < 0 || !bytes.HasSuffix(b, []byte(`"}`)) {
		return nil, "", errors.New("not an audit record (no trailing hash)")
	}
	hash = string(b[i+len(hashSuffix) : len(b)-2])
	if len(hash) != 2*sha256.Size {
		return nil, "", errors.New("not an audit record (malformed hash)")
	}
	body = make([]byte, 0, i+1)
	body = append(body, b[:i]...)
	body = append(body, '}')
	return body, hash, nil
}

// KeyID returns the hex SHA-256 of a public key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// LoadPrivateKey reads an ed25519 private key from a PEM file (PKCS#8).
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("signing key %s: no PEM block (expected \"PRIVATE KEY\")", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: a %T, expected an ed25519 key", path, k)
	}
	return ek, nil
}

// LoadPublicKey reads an ed25519 public key from a PEM file (PKIX,
// "PUBLIC KEY"); a private key file is accepted too (its public half is
// used).
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading public key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("public key %s: no PEM block", path)
	}
	if blk.Type == "PRIVATE KEY" {
		k, err := LoadPrivateKey(path)
		if err != nil {
			return nil, err
		}
		return k.Public().(ed25519.PublicKey), nil
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key %s: a %T, expected an ed25519 key", path, k)
	}
	return ek, nil
}

// MarshalKeys returns the PEM encodings of an ed25519 key pair.
func MarshalKeys(priv ed25519.PrivateKey) (privPEM, pubPEM []byte, err error) {
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	pk, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pk}), nil
}
