package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/events"
)

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeLog writes n events and two admin actions with a checkpoint every 4
// records, and returns the file's lines.
func writeLog(t *testing.T, key ed25519.PrivateKey, n int) (string, [][]byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l, err := Open(Config{File: path, CheckpointEvery: 4}, Options{Key: key, Now: func() time.Time { clock = clock.Add(time.Second); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]events.Event, 0, n)
	for i := range n {
		batch = append(batch, events.Event{ID: events.NewID(), Type: events.TypeDenial, Stage: "waf", ClientIP: "203.0.113.7", Reason: strings.Repeat("x", i)})
	}
	if err := l.Write(context.Background(), batch[:n/2]); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Admin(Action{Action: "ban.lift", Actor: "admin-token", Target: "ip:203.0.113.7", Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(context.Background(), batch[n/2:]); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Admin(Action{Action: "config.reload", Actor: "admin-token", Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path, readLines(t, path)
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

func verify(t *testing.T, lines [][]byte, pub ed25519.PublicKey) *Report {
	t.Helper()
	rep, err := Verify(bytes.NewReader(bytes.Join(lines, nil)), pub)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// seqOf returns the sequence number on a line.
func seqOf(t *testing.T, b []byte) uint64 {
	var l struct{ Seq uint64 }
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return l.Seq
}

// eventLine returns the index of the k-th event record's line.
func eventLine(t *testing.T, lines [][]byte, k int) int {
	t.Helper()
	for i, b := range lines {
		if bytes.Contains(b, []byte(`"kind":"event"`)) {
			if k == 0 {
				return i
			}
			k--
		}
	}
	t.Fatal("not enough event records")
	return -1
}

func TestVerifyIntact(t *testing.T) {
	key := newKey(t)
	_, lines := writeLog(t, key, 10)
	rep := verify(t, lines, key.Public().(ed25519.PublicKey))
	if !rep.OK() {
		t.Fatalf("intact log: problems %v", rep.Problems)
	}
	// 1 open + 10 events + 2 admin = 13 chained records, a checkpoint
	// after every 4 and one at close.
	if rep.Checkpoints < 3 {
		t.Errorf("got %d checkpoints, want at least 3", rep.Checkpoints)
	}
	if rep.Unsigned != 0 {
		t.Errorf("got %d unsigned records after Close, want 0", rep.Unsigned)
	}
	if rep.Records != len(lines) {
		t.Errorf("got %d records, want %d", rep.Records, len(lines))
	}
	// Without a key, the log's own key is used and named.
	rep = verify(t, lines, nil)
	if !rep.OK() || len(rep.Keys) != 1 || rep.Keys[0] != KeyID(key.Public().(ed25519.PublicKey)) {
		t.Fatalf("no key given: ok=%v keys=%v problems=%v", rep.OK(), rep.Keys, rep.Problems)
	}
}

// rehash recomputes a line's hash after its body was changed, as an
// attacker without the signing key can.
func rehash(t *testing.T, b []byte) []byte {
	t.Helper()
	body, _, err := split(b)
	if err != nil {
		t.Fatal(err)
	}
	var l line
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatal(err)
	}
	out, _, err := encode(l)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyNamesTampering(t *testing.T) {
	key := newKey(t)
	pub := key.Public().(ed25519.PublicKey)
	_, orig := writeLog(t, key, 10)
	clone := func() [][]byte {
		out := make([][]byte, len(orig))
		for i, b := range orig {
			out[i] = bytes.Clone(b)
		}
		return out
	}
	k := eventLine(t, orig, 3)
	seqK := seqOf(t, orig[k])

	tests := []struct {
		name   string
		tamper func([][]byte) [][]byte
		kind   string
		seq    uint64
		line   int // 1-based; 0: not checked
	}{
		{"modify", func(l [][]byte) [][]byte {
			l[k] = bytes.Replace(l[k], []byte("203.0.113.7"), []byte("198.51.100.1"), 1)
			return l
		}, ProblemModified, seqK, k + 1},
		{"modify and rehash", func(l [][]byte) [][]byte {
			l[k] = rehash(t, bytes.Replace(l[k], []byte(`"stage":"waf"`), []byte(`"stage":"xyz"`), 1))
			return l
		}, ProblemModified, seqK, k + 1},
		{"delete", func(l [][]byte) [][]byte {
			return append(l[:k:k], l[k+1:]...)
		}, ProblemDeleted, seqK, k + 1},
		{"insert", func(l [][]byte) [][]byte {
			forged := rehash(t, bytes.Replace(l[k], []byte(`"stage":"waf"`), []byte(`"stage":"authn"`), 1))
			out := append([][]byte{}, l[:k+1]...)
			out = append(out, forged)
			return append(out, l[k+1:]...)
		}, ProblemInserted, seqK, k + 2},
		{"reorder", func(l [][]byte) [][]byte {
			l[k], l[k+1] = l[k+1], l[k]
			return l
		}, ProblemReordered, seqK, k + 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := verify(t, tt.tamper(clone()), pub)
			if rep.OK() {
				t.Fatal("tampered log verified")
			}
			found := false
			for _, p := range rep.Problems {
				if p.Kind == tt.kind && p.Seq == tt.seq && (tt.line == 0 || p.Line == tt.line) {
					found = true
				}
			}
			if !found {
				t.Errorf("want a %s problem for record %d on line %d, got %v", tt.kind, tt.seq, tt.line, rep.Problems)
			}
			// The problem names that record only: nothing else is blamed
			// as modified.
			for _, p := range rep.Problems {
				if p.Kind == ProblemModified && p.Seq != tt.seq {
					t.Errorf("blames record %d too: %v", p.Seq, p)
				}
			}
		})
	}
}

// TestVerifyRewrittenChain: an attacker rewrites every record from one on,
// recomputing the whole chain. Only the checkpoints' signatures catch it.
func TestVerifyRewrittenChain(t *testing.T) {
	key := newKey(t)
	pub := key.Public().(ed25519.PublicKey)
	_, lines := writeLog(t, key, 10)
	k := eventLine(t, lines, 1)
	prev := ""
	for i := k; i < len(lines); i++ {
		body, _, _ := split(lines[i])
		var l line
		_ = json.Unmarshal(body, &l)
		if i == k {
			l.Data = json.RawMessage(bytes.Replace(l.Data, []byte("203.0.113.7"), []byte("192.0.2.99"), 1))
		} else {
			l.Prev = prev
		}
		lines[i], prev, _ = encode(l)
	}
	rep := verify(t, lines, pub)
	sig := 0
	for _, p := range rep.Problems {
		if p.Kind == ProblemSignature {
			sig++
		}
		if p.Kind == ProblemModified || p.Kind == ProblemDeleted {
			t.Errorf("unexpected %v", p)
		}
	}
	if sig == 0 {
		t.Fatalf("a rewritten chain verified: %v", rep.Problems)
	}
}

func TestVerifyWrongKey(t *testing.T) {
	_, lines := writeLog(t, newKey(t), 4)
	rep := verify(t, lines, newKey(t).Public().(ed25519.PublicKey))
	if rep.OK() || rep.Problems[0].Kind != ProblemSignature {
		t.Fatalf("another key's log verified: %v", rep.Problems)
	}
}

// TestResume: a second writer continues the chain; a torn last line is cut
// off and the open record says so.
func TestResume(t *testing.T) {
	key := newKey(t)
	path, _ := writeLog(t, key, 6)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"seq":99,"time":"2026-01-0`)
	_ = f.Close()
	l, err := Open(Config{File: path}, Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Write(context.Background(), []events.Event{{ID: "x", Type: events.TypeDenial}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	rep := verify(t, lines, key.Public().(ed25519.PublicKey))
	if !rep.OK() {
		t.Fatalf("resumed log: %v", rep.Problems)
	}
	if !bytes.Contains(bytes.Join(lines, nil), []byte(`"torn_tail_bytes":27`)) {
		t.Error("the open record does not report the torn tail")
	}
}

func TestKeysRoundTrip(t *testing.T) {
	key := newKey(t)
	priv, pub, err := MarshalKeys(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "k"), priv, 0o600)
	os.WriteFile(filepath.Join(dir, "k.pub"), pub, 0o600)
	k2, err := LoadPrivateKey(filepath.Join(dir, "k"))
	if err != nil || !k2.Equal(key) {
		t.Fatalf("private key: %v", err)
	}
	p2, err := LoadPublicKey(filepath.Join(dir, "k.pub"))
	if err != nil || !p2.Equal(key.Public()) {
		t.Fatalf("public key: %v", err)
	}
	if _, err := LoadPrivateKey(filepath.Join(dir, "k.pub")); err == nil {
		t.Error("a public key loaded as a private key")
	}
}
