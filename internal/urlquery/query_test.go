package urlquery

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

var seeds = []string{
	"", "a", "a+b", "a%20b", "%41%42%43", "%e2%80%99", "%", "%4", "%zz", "abc%", "x%2", "+", "++%2B",
	"how+do+I+return+a+damaged+order%3F+It+arrived+yesterday%2C+the+box+was+crushed.",
	"q=how+do+I&limit=20", "a=1&a=2&b", "a=1;b=2", "&&", "=", "=x", "x=", "a=%zz&b=2", "a%zz=1&b=2",
	"a=1&b=%&c=3", "%E4%B8%AD%E6%96%87=%F0%9F%98%80", "a=b=c", "filters[title][$eq]=x&sort=-id",
}

func TestUnescapeMatchesNetURL(t *testing.T) {
	for _, s := range seeds {
		checkUnescape(t, s)
	}
}

func TestParseMatchesNetURL(t *testing.T) {
	for _, s := range seeds {
		checkParse(t, s)
	}
	// Past maxParams the standard parser decides (its limit, its error).
	many := strings.Repeat("a=1&", 20000)
	checkParse(t, many)
}

// TestUnescapeDoesNotCopyPlainText: a value with nothing to decode is
// returned as it is.
func TestUnescapeDoesNotCopyPlainText(t *testing.T) {
	s := "plain-text_value.42"
	got, err := Unescape(s)
	if err != nil || got != s || unsafeData(got) != unsafeData(s) {
		t.Errorf("Unescape(%q) = %q, %v (copied: %v), want the same string", s, got, err, unsafeData(got) != unsafeData(s))
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = Unescape("how+do+I%3F") }); n != 1 {
		t.Errorf("%v allocations to decode, want 1", n)
	}
}

func checkUnescape(t *testing.T, s string) {
	t.Helper()
	got, err := Unescape(s)
	want, werr := url.QueryUnescape(s)
	if got != want || (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
		t.Errorf("Unescape(%q) = %q, %v; url.QueryUnescape: %q, %v", s, got, err, want, werr)
	}
}

func checkParse(t *testing.T, s string) {
	t.Helper()
	got, err := Parse(s)
	want, werr := url.ParseQuery(s)
	if !reflect.DeepEqual(got, want) || (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
		t.Errorf("Parse(%.80q) = %v, %v; url.ParseQuery: %v, %v", s, got, err, want, werr)
	}
}

func FuzzUnescape(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkUnescape(t, s) })
}

func FuzzParse(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkParse(t, s) })
}

func BenchmarkUnescape(b *testing.B) {
	const s = "how+do+I+return+a+damaged+order%3F+It+arrived+yesterday%2C+the+box+was+crushed+and+one+mug+is+chipped."
	b.Run("query", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = Unescape(s)
		}
	})
	b.Run("net/url", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = url.QueryUnescape(s)
		}
	})
}

func unsafeData(s string) *byte { return unsafe.StringData(s) }
