package redact

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// secrets are credential-shaped values of the formats the redactor must
// recognise by shape (none is a real credential).
var secrets = []string{
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiIsImV4cCI6OTk5OTk5OTk5OX0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWc",
	"pk_3f9a1c_Zk8wQ2xpZW50U2VjcmV0S2V5MTIzNDU2",
	"sk_live_51H8eXAMPLEkEy0000aBcDeFgHiJkLmNoP",
	"ghp_1234567890abcdefghijABCDEFGHIJ123456",
	"glpat-xYz123AbC456dEf789gHi0",
	"xoxb-123456789012-123456789012-AbCdEfGhIjKlMnOpQrStUvWx",
	"AKIAIOSFODNN7EXAMPLE",
	"AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
	"u8Q2/Nf3kLp+9xZt7Wq1Vb6Rc0Hy4Ms5Jd3Ke2Ga", // AWS secret-key shape
	"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",
	"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
}

func TestTextMasksShapes(t *testing.T) {
	r := New(nil, nil)
	for _, sec := range secrets {
		for _, tmpl := range []string{"%s", "/v1/keys/%s", "/v1/keys/%s/rotate", "user agent %s here",
			"Authorization: Bearer %s", "X-Custom: %s", "a=1&b=%s", `{"value":"%s"}`, "(%s)", "'%s'", "k=%s;x"} {
			in := strings.Replace(tmpl, "%s", sec, 1)
			if out := r.Text(in); strings.Contains(out, sec) || strings.Contains(out, sec[len(sec)/2-4:len(sec)/2+4]) {
				t.Errorf("Text(%q) = %q: the secret is still there", in, out)
			}
		}
	}
}

func TestTextKeepsOrdinaryText(t *testing.T) {
	r := New(nil, nil)
	for _, s := range []string{
		"/v1/orders/3f1c2b7e-0d5a-4c1e-9a55-0a4f0c3e2d11/items",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
		"curl/8.5.0", "/users/alice/profile", "limit=10&sort=asc&q=hello+world",
		"the quick brown fox jumps over the lazy dog", "/static/app.min.js", "2025-03-01T12:00:00Z",
		"redis allow all: context canceled", "GET /api/v2/search?q=internationalization HTTP/1.1",
		"/v1/projects/my-project-name-that-is-long/settings",
		"/api/v2/Users/Alice123/Profile", "/v1/projects/MyProjectName2024/Settings/General",
		"/static/js/main.8f3a2b1c.chunk.js", "/images/ProductPhoto_2024_ABC123_large.jpg",
		"/u/JohnSmith1985/Repositories/MyCoolProject", "getUserProfileByIdV2Handler", "TheQuickBrownFoxJumpsOverTheLazyDog1",
	} {
		if out := r.Text(s); out != s {
			t.Errorf("Text(%q) = %q, want it unchanged", s, out)
		}
	}
	if n := testing.AllocsPerRun(100, func() { r.Text("/v1/orders/3f1c2b7e-0d5a-4c1e-9a55-0a4f0c3e2d11/items?x=1") }); n != 0 {
		t.Errorf("Text on ordinary text: %v allocs, want 0", n)
	}
}

func TestSecretNames(t *testing.T) {
	r := New(nil, []string{"my_custom"})
	for _, n := range []string{"auth_token", "jwt", "pass", "pwd", "private_key", "otp", "x-api-key", "X-Amz-Signature",
		"accessToken", "clientSecret", "X-Session-Token", "Private-Token", "X-Vault-Token", "api.key", "PASSWORD",
		"user_password", "refreshToken", "X_Auth_Token", "my-custom", "x-csrf-token", "sessionid", "authorization"} {
		if !r.SecretName(n) {
			t.Errorf("%s: not secret", n)
		}
	}
	for _, n := range []string{"limit", "author", "monkey", "keyword", "passport", "id", "name", "sort", "user_id", "q", "page"} {
		if r.SecretName(n) {
			t.Errorf("%s: secret", n)
		}
	}
}

func TestQuerySeparatorsAndNames(t *testing.T) {
	r := New(nil, nil)
	for in, want := range map[string]string{
		"a=1;token=abc":                "a=1;token=[REDACTED]",
		"x=1;jwt=abc&pwd=p":            "x=1;jwt=[REDACTED]&pwd=[REDACTED]",
		"X-Amz-Signature=abc&X-Amz-X=": "X-Amz-Signature=[REDACTED]&X-Amz-X=",
		"accessToken=abc":              "accessToken=[REDACTED]",
		"q=" + secrets[0]:              "q=[REDACTED]",
	} {
		if got := r.Query(in); got != want {
			t.Errorf("Query(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzText plants a credential in random text: whatever surrounds it, the
// redactor never lets it through.
func FuzzText(f *testing.F) {
	f.Add("GET /x?a=", "&b=1", uint8(0))
	f.Add(`{"name":"`, `"}`, uint8(1))
	f.Add("X-Foo: ", "\r\n", uint8(2))
	f.Add("", "", uint8(3))
	r := New(nil, nil)
	f.Fuzz(func(t *testing.T, before, after string, which uint8) {
		sec := secrets[int(which)%len(secrets)]
		// The surroundings must not extend the secret into a longer run
		// of token characters (then it is another, still masked, token).
		if before != "" && runByte(before[len(before)-1]) || after != "" && runByte(after[0]) {
			return
		}
		in := before + sec + after
		out := r.Text(in)
		if strings.Contains(out, sec) {
			t.Fatalf("Text(%q) = %q", in, out)
		}
	})
}

// TestRandomPlanting plants every secret in random ASCII around random
// separators, many times, as a property test run on every build.
func TestRandomPlanting(t *testing.T) {
	r := New(nil, nil)
	rng := rand.New(rand.NewPCG(7, 7))
	seps := " /?&;=:,\"'()[]{}<>\t\r\n|"
	word := func() string {
		n := rng.IntN(8)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		return string(b)
	}
	for i := 0; i < 20000; i++ {
		sec := secrets[rng.IntN(len(secrets))]
		in := word() + string(seps[rng.IntN(len(seps))]) + sec + string(seps[rng.IntN(len(seps))]) + word()
		if out := r.Text(in); strings.Contains(out, sec) {
			t.Fatalf("Text(%q) = %q", in, out)
		}
	}
}

// TestTablesMatchTheirDefinitions checks the byte tables Text reads
// against what they stand for: runBytes against runByte's character
// classes, segmentSep against maskSegments' separators, and prefixFirst
// against every key prefix (a run that starts with no prefixFirst byte
// starts with no prefix).
func TestTablesMatchTheirDefinitions(t *testing.T) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		want := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			b == '_' || b == '-' || b == '.' || b == '+' || b == '/' || b == '~'
		if runByte(b) != want {
			t.Errorf("runByte(%q) = %v, want %v", b, !want, want)
		}
		if got, want := segmentSep[b], b == '/' || b == '.' || b == '~'; got != want {
			t.Errorf("segmentSep[%q] = %v, want %v", b, got, want)
		}
		starts := false
		for _, p := range keyPrefixes {
			starts = starts || p[0] == b
		}
		if prefixFirst[b] != starts {
			t.Errorf("prefixFirst[%q] = %v, want %v", b, prefixFirst[b], starts)
		}
	}
}

// randomUngated is random as it was before its upper-case gate.
func randomUngated(s string) bool {
	if len(s) >= minHexRun && allHex(s) {
		return true
	}
	if len(s) < minEntropyRun {
		return false
	}
	var lower, upper bool
	wordy, run, start := 0, 0, 0
	capital := false
	for i := 0; i <= len(s); i++ {
		var c byte
		if i < len(s) {
			c = s[i]
		}
		if c >= 'a' && c <= 'z' {
			lower = true
			if run == 0 {
				start = i
			}
			run++
			continue
		}
		if (run >= 4 || capital && run >= 2) && pronounceable(s[start-b2i(capital):start+run]) {
			wordy += run + b2i(capital)
		}
		run, capital = 0, false
		if c >= 'A' && c <= 'Z' {
			upper, capital = true, true
		}
	}
	return lower && upper && 2*wordy < len(s) && !formSentence(s) && entropy(s) >= 3.5
}

// TestRandomGateIsNecessary compares random with its ungated form on
// random runs (lower case only, mixed case, hex, base64) and the
// planting test's tokens: the gate changes no answer.
func TestRandomGateIsNecessary(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabets := []string{"abcdefghijklmnopqrstuvwxyz_/-.", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
		"0123456789abcdef", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", "abcdefghijklmnopqrstuvwxyzQ0123456789"}
	trues := 0
	for n := 0; n < 200000; n++ {
		a := alphabets[n%len(alphabets)]
		b := make([]byte, 20+rng.IntN(40))
		for i := range b {
			b[i] = a[rng.IntN(len(a))]
		}
		s := string(b)
		got, want := random(s), randomUngated(s)
		if got != want {
			t.Fatalf("random(%q) = %v, ungated %v", s, got, want)
		}
		if want {
			trues++
		}
	}
	if trues < 1000 {
		t.Fatalf("only %d random runs: the test proves little", trues)
	}
}
