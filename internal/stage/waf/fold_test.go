package waf

import (
	"strings"
	"testing"
)

func TestFold(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"short", "short"},
		{strings.Repeat("{{", 4000), strings.Repeat("{{", 4)},
		{"a" + strings.Repeat("&lt;", 100) + "b", "a" + strings.Repeat("&lt;", 8) + "b"},
		{"1" + strings.Repeat(")", 30) + " union select", "1" + strings.Repeat(")", 8) + " union select"},
		{strings.Repeat("ab", 8), strings.Repeat("ab", 8)}, // exactly maxRepeat copies: kept
		{"x" + strings.Repeat("<a>", 50), "x" + strings.Repeat("<a>", 8)},
	} {
		if got := fold(tt.in); got != tt.want {
			t.Errorf("fold(%.40q): got %.60q, want %.60q", tt.in, got, tt.want)
		}
	}
}

func FuzzFold(f *testing.F) {
	for _, s := range []string{"{{{{{{{{{{{{{{{{{{", "&lt;&lt;&lt;&lt;&lt;&lt;&lt;&lt;&lt;&lt;", "abc", "'''''''''''''''''''' or 1=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := fold(s)
		if len(got) > len(s) {
			t.Fatalf("fold grew %q to %q", s, got)
		}
		if fold(got) != got {
			t.Fatalf("fold is not idempotent on %q: %q then %q", s, got, fold(got))
		}
	})
}
