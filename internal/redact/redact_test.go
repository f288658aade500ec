package redact

import (
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestQuery(t *testing.T) {
	r := New(nil, []string{"session_token"})
	cases := []struct{ in, want string }{
		{"", ""},
		{"a=1&b=2", "a=1&b=2"},
		{"token=abc&q=x", "token=[REDACTED]&q=x"},
		{"API_KEY=abc", "API_KEY=[REDACTED]"},
		{"session_token=s3cr3t", "session_token=[REDACTED]"},
		{"access%5Ftoken=abc", "access%5Ftoken=[REDACTED]"},
		{"bad%zz=1", "[REDACTED]"},
		{"flag", "flag"},
		// A sentence in form encoding is text, though most of its words
		// are short; a key with '+' in it is still a key.
		{"q=how+do+I+return+a+damaged+order%3F+It+arrived+yesterday%2C+the+box+was+crushed+and+one+mug+is+chipped.&limit=20",
			"q=how+do+I+return+a+damaged+order%3F+It+arrived+yesterday%2C+the+box+was+crushed+and+one+mug+is+chipped.&limit=20"},
		{"q=Nf3kLp+9xZt7Wq1+Vb6Rc0Hy4Ms5Jd3Ke2Ga+is", "q=[REDACTED]"},
		{"q=pre+IqkQdIzpymGqH0zS4MuRwo7", "q=[REDACTED]"},
		// Judged on the text the escapes encode: "%27t" is not a word
		// "27t", and words of any sound and case are words; a key whose
		// '+' and '/' were escaped is still one key.
		{"q=Can%27t+act.++Slightly+bald.++Also+dances.%0A%09%09--+RKO+executive%2C+reacting+to+Fred+Astaire%27s+screen+test.",
			"q=Can%27t+act.++Slightly+bald.++Also+dances.%0A%09%09--+RKO+executive%2C+reacting+to+Fred+Astaire%27s+screen+test."},
		{"q=HOODLUMS+FROM+ANOTHER+WORLD+ON+A+RAY-GUN+RAMPAGE%21", "q=HOODLUMS+FROM+ANOTHER+WORLD+ON+A+RAY-GUN+RAMPAGE%21"},
		{"q=u8Q2%2FNf3kLp%2B9xZt7Wq1Vb6Rc0Hy4Ms5Jd3Ke2Ga", "q=[REDACTED]"},
		{"q=the+Nf3kLp9xZt7Wq1Vb6Rc0Hy4Ms5Jd3Ke2Ga+key", "q=[REDACTED]"},
	}
	for _, tc := range cases {
		if got := r.Query(tc.in); got != tc.want {
			t.Errorf("Query(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHeader(t *testing.T) {
	r := New([]string{"X-Custom-Secret"}, nil)
	for _, h := range []string{"authorization", "Cookie", "set-cookie", "X-API-KEY", "x-custom-secret"} {
		if got := r.Header(h, "v"); got != Mask {
			t.Errorf("Header(%s): got %q, want masked", h, got)
		}
	}
	if got := r.Header("User-Agent", "curl"); got != "curl" {
		t.Errorf("User-Agent: got %q, want curl", got)
	}
}

func TestExcerpt(t *testing.T) {
	if got := Excerpt("a\nb\x00c\\", 100); got != `a\x0ab\x00c\\` {
		t.Errorf("got %q", got)
	}
	if got := Excerpt("abcdef", 3); got != "abc…" {
		t.Errorf("got %q", got)
	}
}

// TestExcerptFastPath: returning a short printable string as it is gives
// what the escaping loop gives, for every length around the cut, short
// strings and long mostly plain ones.
func TestExcerptFastPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab \\\x00\x1f\x7f\xc3\xa9\n\"~")
	plain := []byte("abcdefghijklmnopqrstuvwxyz ~/=+%")
	for k := range 40000 {
		b := make([]byte, rng.IntN(12))
		if k%2 == 1 { // long, mostly plain: printable's eight-byte scan
			b = make([]byte, rng.IntN(40))
		}
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
			if k%2 == 1 && rng.IntN(16) != 0 {
				b[i] = plain[rng.IntN(len(plain))]
			}
		}
		n := rng.IntN(14)
		if k%2 == 1 {
			n = rng.IntN(48)
		}
		if got, want := Excerpt(string(b), n), excerpt(string(b), n); got != want {
			t.Fatalf("Excerpt(%q, %d) = %q, want %q", b, n, got, want)
		}
	}
}

// TestFortuneQueriesStayReadable sends every short fortune of Debian's
// fortunes package (text nobody here wrote; scripts/test-deps.sh installs
// it) form-encoded as a query value through Query: ordinary sentences
// must reach the access log as they are. 1,251 of 14,462 were masked
// before the redactor judged the decoded text and form-encoded words;
// what is left (45) is code-like ("PUSHes", TeX, "_H2_").
func TestFortuneQueriesStayReadable(t *testing.T) {
	files, _ := filepath.Glob("/usr/share/games/fortunes/*")
	r := New(nil, nil)
	n, masked := 0, 0
	for _, f := range files {
		if filepath.Ext(f) != "" {
			continue // .dat indexes, .u8 copies
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, fort := range strings.Split(string(b), "\n%\n") {
			if fort == "" || len(fort) > 600 {
				continue
			}
			n++
			if q := "q=" + url.QueryEscape(fort); r.Query(q) != q {
				masked++
			}
		}
	}
	if n < 1000 {
		t.Skipf("%d fortunes found: install Debian's fortunes package (scripts/test-deps.sh)", n)
	}
	if masked*100 > n {
		t.Errorf("%d of %d fortunes masked in a query, want at most 1%%", masked, n)
	}
	t.Logf("%d of %d fortunes masked in a query", masked, n)
}

// wordsRef is how names were split into words before secretWord (a
// callback per word), kept to hold secretWord to it.
func wordsRef(name string, fn func(w string) bool) bool {
	start := 0
	flush := func(end int) bool { return end > start && fn(strings.ToLower(name[start:end])) }
	for i := 0; i < len(name); i++ {
		c := name[i]
		isSep := !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80)
		camel := i > start && c >= 'A' && c <= 'Z' && name[i-1] >= 'a' && name[i-1] <= 'z'
		switch {
		case isSep:
			if flush(i) {
				return true
			}
			start = i + 1
		case camel:
			if flush(i) {
				return true
			}
			start = i
		}
	}
	return flush(len(name))
}

// TestSecretWord: secretWord finds a secret word exactly where splitting
// the name into words (separators, camelCase) does, for random names
// built from words, cases and separators.
func TestSecretWord(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"token", "Token", "TOKEN", "api", "Key", "x", "-", "_", ".", " ", "9", "é", "user", "Id",
		"pass", "Word", "session", "S", "a", "auth", "Or", "sid", "PIN", ""}
	for range 50000 {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		name := b.String()
		want := wordsRef(name, func(w string) bool { return secretWords[w] })
		if got := secretWord(name); got != want {
			t.Fatalf("secretWord(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestPathUnescape: pathUnescape decodes as url.PathUnescape does and
// fails where it fails.
func TestPathUnescape(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	pieces := []string{"%", "%2", "%2C", "%3f", "%zz", "%0A", "%e2%80%a8", "+", "a", "Z", "9", "f", "é", "%%", "%25"}
	for range 50000 {
		var b strings.Builder
		for range rng.IntN(8) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := b.String()
		want, err := url.PathUnescape(s)
		got, ok := pathUnescape(nil, s)
		if ok != (err == nil) || ok && string(got) != want {
			t.Fatalf("pathUnescape(%q) = %q, %v; want %q, %v", s, got, ok, want, err)
		}
	}
}
