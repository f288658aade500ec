package limits

import (
	"strings"
	"testing"
)

func TestCheckPath(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		rule string // "" = must pass
	}{
		// Benign paths that must pass.
		{"root", "/", ""},
		{"plain", "/v1/pets/42", ""},
		{"space", "/v1/files/my%20file.txt", ""},
		{"dots in name", "/v1/files/a..b", ""},
		{"report", "/v1/files/my.report.pdf", ""},
		{"leading dots in name", "/v1/files/..hidden", ""},
		{"dot segment", "/v1/./pets", ""},
		{"trailing dots in name", "/v1/files/name..", ""},
		{"unicode raw", "/v1/städte/zürich", ""},
		{"unicode encoded", "/v1/st%C3%A4dte/%E6%97%A5%E6%9C%AC", ""},
		{"emoji", "/v1/tags/%F0%9F%98%80", ""},
		{"encoded slash", "/v1/files/a%2Fb", ""},
		{"encoded percent literal", "/v1/discount/50%25off", ""},
		{"matrix param", "/v1/pets;color=red/42", ""},
		{"plus", "/v1/search/a+b", ""},
		{"tilde", "/~user/x", ""},
		{"fullwidth dot in name", "/v1/files/a%EF%BC%8Eb", ""},
		{"empty", "", ""},

		// Traversal.
		{"dotdot", "/v1/../admin", RulePathTraversal},
		{"dotdot end", "/v1/..", RulePathTraversal},
		{"dotdot start", "../etc/passwd", RulePathTraversal},
		{"encoded dots", "/v1/%2e%2e/admin", RulePathTraversal},
		{"encoded dots upper", "/v1/%2E%2E/admin", RulePathTraversal},
		{"mixed dots", "/v1/.%2e/admin", RulePathTraversal},
		{"encoded slash dotdot", "/v1/..%2fadmin", RulePathTraversal},
		{"double encoded", "/v1/%252e%252e/admin", RulePathTraversal},
		{"double encoded slash", "/v1/..%252fadmin", RulePathTraversal},
		{"triple encoded", "/v1/%25252e%25252e/admin", RulePathTraversal},
		{"tomcat", "/v1/..;/admin", RulePathTraversal},
		{"tomcat param", "/v1/..;jsessionid=1/admin", RulePathTraversal},
		{"tomcat encoded", "/v1/%2e%2e;/admin", RulePathTraversal},
		{"windows trailing dot", "/v1/.../admin", RulePathTraversal},
		{"windows trailing space", "/v1/..%20/admin", RulePathTraversal},
		{"backslash raw", `/v1/..\admin`, RulePathTraversal},
		{"backslash encoded", "/v1/..%5cadmin", RulePathTraversal},
		{"backslash lower encoded", "/v1/%5C", RulePathTraversal},
		{"backslash alone", `/v1/a\b`, RulePathTraversal},
		{"backslash double encoded", "/v1/..%255cadmin", RulePathTraversal},
		{"overlong dot", "/v1/%c0%ae%c0%ae/admin", RulePathTraversal},
		{"overlong slash", "/v1/..%c0%afadmin", RulePathTraversal},
		{"overlong dot 3 byte", "/v1/%e0%80%ae%e0%80%ae/admin", RulePathTraversal},
		{"overlong dot 4 byte", "/v1/%f0%80%80%ae/admin", RulePathTraversal},
		{"overlong backslash", "/v1/..%c1%9cadmin", RulePathTraversal},
		{"iis overlong backslash", "/v1/..%c1%1cadmin", RulePathTraversal},
		{"iis overlong slash variant", "/v1/..%c0%2fadmin", RulePathTraversal},
		{"overlong double encoded", "/v1/%25c0%25ae%25c0%25ae/", RulePathTraversal},
		{"fullwidth dots", "/v1/%EF%BC%8E%EF%BC%8E/admin", RulePathTraversal},
		{"fullwidth slash", "/v1/..%EF%BC%8Fadmin", RulePathTraversal},
		{"division slash", "/v1/..%E2%88%95admin", RulePathTraversal},
		{"fullwidth backslash", "/v1/..%EF%BC%BCadmin", RulePathTraversal},

		// Control bytes.
		{"nul encoded", "/v1/file%00.txt", RuleControlChar},
		{"nul raw", "/v1/file\x00.txt", RuleControlChar},
		{"lf", "/v1/a%0aSet-Cookie:x", RuleControlChar},
		{"cr", "/v1/a%0d", RuleControlChar},
		{"crlf", "/v1/a%0d%0a", RuleControlChar},
		{"tab", "/v1/a%09b", RuleControlChar},
		{"del", "/v1/a%7f", RuleControlChar},
		{"nul double encoded", "/v1/file%2500.txt", RuleControlChar},

		// Encoding.
		{"bad escape", "/v1/%zz", RuleBadEncoding},
		{"truncated escape", "/v1/a%2", RuleBadEncoding},
		{"percent at end", "/v1/a%", RuleBadEncoding},
		{"iis unicode escape", "/v1/%u002e%u002e/", RuleBadEncoding},
		{"invalid utf8", "/v1/%ff", RuleBadEncoding},
		{"truncated utf8", "/v1/%C3", RuleBadEncoding},
		{"overlong letter", "/v1/%c1%81", RuleBadEncoding},
		{"surrogate", "/v1/%ed%a0%80", RuleBadEncoding},
		{"too many layers", "/v1/%2525252541", RuleBadEncoding},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rule, reason, ok := CheckPath(tc.raw)
			if tc.rule == "" {
				if !ok {
					t.Fatalf("got %s (%s), want ok", rule, reason)
				}
				return
			}
			if ok {
				t.Fatalf("got ok, want %s", tc.rule)
			}
			if rule != tc.rule {
				t.Errorf("got rule %s (%s), want %s", rule, reason, tc.rule)
			}
			if reason == "" || strings.Contains(reason, "%") || strings.Contains(reason, "admin") {
				t.Errorf("got reason %q, want a fixed safe sentence", reason)
			}
		})
	}
}

func TestDecodePath(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    string
		wantErr bool
	}{
		{"no escapes", "/a/b", "/a/b", false},
		{"space", "/a%20b", "/a b", false},
		{"plus kept", "/a+b", "/a+b", false},
		{"slash", "/a%2Fb", "/a/b", false},
		{"once only", "/%252e", "/%2e", false},
		{"utf8", "/%C3%A4", "/ä", false},
		{"bad", "/%g0", "", true},
		{"short", "/%4", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodePath(tc.raw)
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), tc.raw) {
				t.Errorf("error %q echoes the input", err)
			}
		})
	}
}

func TestCheckPathNoAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { CheckPath("/v1/pets/42/photos;v=1/my.report.pdf") }); n != 0 {
		t.Errorf("got %v allocs, want 0", n)
	}
}

// FuzzCheckPath checks that CheckPath never panics and that whatever it
// accepts, decoded once (and again while escapes remain), has no dot-dot
// segment, NUL or backslash.
func FuzzCheckPath(f *testing.F) {
	for _, s := range []string{
		"/v1/pets/42", "/a/../b", "/%2e%2e/", "/%252e%252e/", "/..;/x", `/..\x`, "/%5c", "/%c0%ae%c0%ae/",
		"/%e0%80%ae", "/%f0%80%80%ae", "/%00", "/%0d%0a", "/a..b", "/%zz", "/%EF%BC%8E%EF%BC%8E/", "/.../",
		"/..%20/", "/%25%32%65", "/%%32%65%%32%65/", "/..%c1%1c", "/%2525252e",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_, _, ok := CheckPath(raw)
		if !ok {
			return
		}
		s, err := DecodePath(raw)
		if err != nil {
			t.Fatalf("CheckPath accepted %q but DecodePath fails: %v", raw, err)
		}
		for layer := 0; ; layer++ {
			for _, seg := range strings.Split(s, "/") {
				if seg == ".." {
					t.Fatalf("CheckPath accepted %q, layer %d %q has a .. segment", raw, layer, s)
				}
			}
			if strings.ContainsAny(s, "\x00\\") {
				t.Fatalf("CheckPath accepted %q, layer %d %q has NUL or backslash", raw, layer, s)
			}
			if !hasEscape(s) {
				break
			}
			if layer > maxDecodeLayers {
				t.Fatalf("CheckPath accepted %q with more than %d layers", raw, maxDecodeLayers)
			}
			s, _ = decodeLenient(s, len(s))
		}
	})
}
