package main

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestMetricsDoc: docs/metrics.md lists exactly the portcullis_* metrics
// internal/metrics declares, and every one a running gateway (the demo)
// exports.
func TestMetricsDoc(t *testing.T) {
	env, err := startDemo("127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", slog.LevelError)
	if err != nil {
		t.Fatal(err)
	}
	defer env.close()
	// One request of each outcome, so that the labelled vectors appear.
	for _, p := range []string{"/pets", "/pets/..%2f..%2fetc%2fpasswd"} {
		if resp, err := http.Get(env.base + p); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	resp, err := http.Get(env.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	exported := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 3 && f[0] == "#" && f[1] == "HELP" && strings.HasPrefix(f[2], "portcullis_") {
			exported[f[2]] = true
		}
	}
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(portcullis_[a-z_]+)`").FindAllStringSubmatch(string(doc), -1) {
		listed[m[1]] = true
	}
	if len(exported) < 10 {
		t.Fatalf("only %d metrics exported: %v", len(exported), exported)
	}
	for m := range exported {
		if !listed[m] {
			t.Errorf("docs/metrics.md does not list %s", m)
		}
	}
	// Labelled vectors appear on /metrics only once observed, so the
	// declared set comes from the source.
	srcs, err := filepath.Glob("../../internal/metrics/*.go")
	if err != nil || len(srcs) == 0 {
		t.Fatal("no internal/metrics sources", err)
	}
	declared := map[string]bool{}
	for _, f := range srcs {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"(portcullis_[a-z_]+)"`).FindAllStringSubmatch(string(src), -1) {
			declared[m[1]] = true
		}
	}
	for m := range declared {
		if !listed[m] {
			t.Errorf("docs/metrics.md does not list %s (declared in internal/metrics)", m)
		}
	}
	for m := range listed {
		if !declared[m] {
			t.Errorf("docs/metrics.md lists %s, which internal/metrics does not declare", m)
		}
	}
}

// TestEventsDoc: docs/events.md lists every event type constant of
// internal/events.
func TestEventsDoc(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../../internal/events/event.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if strings.HasPrefix(name.Name, "Type") && i < len(vs.Values) {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
					v, _ := strconv.Unquote(lit.Value)
					types = append(types, v)
				}
			}
		}
		return true
	})
	if len(types) < 8 {
		t.Fatalf("found only %v", types)
	}
	doc, err := os.ReadFile("../../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range types {
		if !strings.Contains(string(doc), "| `"+typ+"` |") {
			t.Errorf("docs/events.md has no row for the event type %q", typ)
		}
	}
}
