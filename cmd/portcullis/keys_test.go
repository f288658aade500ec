package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestKeysCommand creates, rotates, lists and revokes keys through the CLI
// and checks that the file only ever holds hashes.
func TestKeysCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys.yaml")
	runKeys := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		root := newRoot()
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"keys", "--file", file}, args...))
		if err := root.Execute(); err != nil {
			t.Fatalf("keys %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	keyRE := regexp.MustCompile(`key:\s+(pk_([0-9a-f]+)_\S+)`)
	m := keyRE.FindStringSubmatch(runKeys("create", "--owner", "alice", "--role", "user", "--tier", "gold"))
	if m == nil {
		t.Fatal("create printed no key")
	}
	secret, id := m[1], m[2]
	m2 := keyRE.FindStringSubmatch(runKeys("rotate", id, "--grace", "1h"))
	if m2 == nil {
		t.Fatal("rotate printed no key")
	}
	runKeys("revoke", m2[2])
	disk, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, m2[1]} {
		if bytes.Contains(disk, []byte(s)) || bytes.Contains(disk, []byte(s[len(s)-20:])) {
			t.Fatalf("the keys file contains a secret:\n%s", disk)
		}
	}
	list := runKeys("list")
	for _, want := range []string{id + "  alice  rotating until", m2[2] + "  alice  revoked"} {
		if !strings.Contains(list, want) {
			t.Errorf("list: got\n%s\nwant a line containing %q", list, want)
		}
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("got mode %v, want 0600", st.Mode().Perm())
	}
}
