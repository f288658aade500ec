package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAdminAddrOf(t *testing.T) {
	dir := t.TempDir()
	write := func(name, admin string) string {
		p := filepath.Join(dir, name)
		doc := "apis:\n  - name: a\n    upstream: {targets: [\"http://127.0.0.1:9000\"]}\n" + admin
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, file string
		explicit   bool
		want, err  string
	}{
		{"default address", write("a.yaml", ""), true, "127.0.0.1:9901", ""},
		{"wildcard v4 probed on loopback", write("b.yaml", "admin: {addr: 0.0.0.0:9911}\n"), true, "127.0.0.1:9911", ""},
		{"wildcard v6 probed on loopback", write("c.yaml", "admin: {addr: '[::]:9912'}\n"), true, "[::1]:9912", ""},
		{"empty host", write("d.yaml", "admin: {addr: ':9913'}\n"), true, "127.0.0.1:9913", ""},
		{"specific address kept", write("e.yaml", "admin: {addr: 10.1.2.3:9914}\n"), true, "10.1.2.3:9914", ""},
		{"disabled admin", write("f.yaml", "admin: {disabled: true}\n"), true, "", "admin.disabled"},
		{"missing default file", filepath.Join(dir, "none.yaml"), false, "127.0.0.1:9901", ""},
		{"missing named file", filepath.Join(dir, "none.yaml"), true, "", "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := adminAddrOf(c.file, c.explicit)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestHealthcheckExitStatus(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	run := func(args ...string) (error, string) {
		cmd := newRoot()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append([]string{"healthcheck"}, args...))
		err := cmd.Execute()
		return err, out.String()
	}
	if err, out := run("--url", srv.URL+"/healthz"); err != nil || !strings.Contains(out, "healthy") {
		t.Fatalf("200: %v %s", err, out)
	}
	status = http.StatusServiceUnavailable
	if err, out := run("--url", srv.URL+"/healthz"); exitCode(err) != 1 || !strings.Contains(out, "unhealthy") {
		t.Fatalf("503: exit %d %s", exitCode(err), out)
	}
	srv.Close()
	if err, _ := run("--url", srv.URL+"/healthz", "--timeout", "1s"); exitCode(err) != 1 {
		t.Fatalf("down: exit %d", exitCode(err))
	}
}
