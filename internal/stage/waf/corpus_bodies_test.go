package waf_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// apiBody is one realistic JSON request body of the benign corpus.
type apiBody struct{ name, body string }

// apiBodies builds realistic API request bodies (reviews, vet notes,
// addresses, profiles, markdown documents, code snippets) whose text comes
// from data nobody here wrote: Debian's fortunes, wfuzz's list of first
// names, fuzzdb's valid e-mail addresses, the Markdown files and Go
// sources of the Go distribution. Only the JSON shapes, the surname
// prefixes (O', D', Mc) and the plus-tags are ours.
func apiBodies(t testing.TB) []apiBody {
	t.Helper()
	prose := fortunes()
	names := readLines("/usr/share/wfuzz/wordlist/others/names.txt")
	if len(prose) == 0 || len(names) == 0 {
		t.Log("fortunes or wfuzz not installed: no realistic API bodies")
		return nil
	}
	emails := loadJSONSet(t, "benign-emails").payloads
	md := markdownParagraphs()
	code := goSnippets()
	var out []apiBody
	pick := func(l []string, i int) string { return l[(i*7919)%len(l)] }
	first := func(s string) string {
		l, _, _ := strings.Cut(s, "\n")
		if len(l) > 80 {
			l = l[:80]
		}
		return l
	}
	surname := func(i int) string {
		n := pick(names, i+3)
		switch i % 4 {
		case 0:
			return "O'" + n
		case 1:
			return "D'" + n
		case 2:
			return "Mc" + n
		}
		return n + "-" + pick(names, i+5)
	}
	add := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, apiBody{name, string(b)})
	}
	for i := range 1500 {
		given, family := pick(names, i), surname(i)
		email := strings.ToLower(given) + "." + strings.ToLower(strings.NewReplacer("'", "", "-", "").Replace(family)) + "+" + []string{"orders", "news", "2024", "work"}[i%4] + "@example.com"
		if i%3 == 0 {
			email = pick(emails, i)
		}
		switch i % 6 {
		case 0:
			add("review", map[string]any{"product_id": fmt.Sprintf("sku-%05d", i), "rating": 1 + i%5,
				"title": first(pick(prose, i)), "body": pick(prose, i+1),
				"author": map[string]any{"name": given + " " + family, "email": email}})
		case 1:
			add("vet-notes", map[string]any{"pet_id": fmt.Sprintf("p-%d", 1000+i), "visit": "2024-03-14",
				"vet": "Dr. " + given + " " + family, "notes": pick(prose, i) + " " + pick(prose, i+2),
				"weight_kg": 31.4, "tags": []string{"annual", "ears"}})
		case 2:
			add("address", map[string]any{"name": given + " " + family, "email": email,
				"street": fmt.Sprintf("%d %s Street, Apt. %d%c", 1+i%250, pick(names, i+9), 1+i%12, 'A'+rune(i%4)),
				"city":   pick(names, i+11) + "ville", "postcode": fmt.Sprintf("%05d", i*37%100000),
				"delivery_instructions": first(pick(prose, i+4))})
		case 3:
			add("profile", map[string]any{"display_name": given + " " + family, "email": email,
				"website": "https://example.com/~" + strings.ToLower(given) + "/blog?page=" + fmt.Sprint(i%9),
				"bio":     pick(prose, i+5)})
		case 4:
			if len(md) == 0 {
				continue
			}
			add("markdown", map[string]any{"title": first(pick(prose, i)), "content_md": pick(md, i), "draft": i%2 == 0})
		case 5:
			if len(code) == 0 {
				continue
			}
			add("snippet", map[string]any{"language": "go", "code": pick(code, i), "description": first(pick(prose, i+6))})
		}
	}
	return out
}

// markdownParagraphs returns the paragraphs (blank-line separated blocks)
// of the Markdown files that ship with the Go distribution.
func markdownParagraphs() []string {
	var files []string
	_ = filepath.WalkDir(runtime.GOROOT(), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") && !strings.Contains(p, "testdata") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	var out []string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, p := range strings.Split(string(b), "\n\n") {
			if p = strings.TrimSpace(p); len(p) >= 40 && len(p) <= 1500 {
				out = append(out, p)
			}
		}
	}
	return out
}

// goSnippets returns 3 to 10 line pieces of the Go standard library's
// net/http and encoding/json sources.
func goSnippets() []string {
	var out []string
	for _, dir := range []string{"net/http", "encoding/json", "strings"} {
		files, _ := filepath.Glob(filepath.Join(runtime.GOROOT(), "src", dir, "*.go"))
		sort.Strings(files)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, _ := os.ReadFile(f)
			lines := strings.Split(string(b), "\n")
			for i := 0; i+10 < len(lines); i += 37 {
				n := 3 + i%8
				s := strings.TrimSpace(strings.Join(lines[i:i+n], "\n"))
				if len(s) >= 30 {
					out = append(out, s)
				}
			}
		}
	}
	return out
}
