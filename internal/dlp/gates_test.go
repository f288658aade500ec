package dlp

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestGatesAreNecessary checks that mayNumber, the gate Find puts before
// the card and SSN matchers, is a necessary condition: at every position
// where a digit pair starts and at (ungated) finds a value, the gate
// holds. Texts: random digit-heavy strings, planted cards and SSNs in
// random surroundings, the fuzz seeds and the benign corpora.
func TestGatesAreNecessary(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 34))
	var texts []string
	const alphabet = "0123456789012345678901234567890123456789  --:/.TZa"
	for n := 0; n < 100000; n++ {
		b := make([]byte, 8+rng.IntN(30))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		texts = append(texts, string(b))
	}
	for n := 0; n < 20000; n++ {
		k := []Kind{Card, SSN}[n%2]
		v, _, _ := planted(k, rng)
		pre := []string{"", " ", "1", "12-", "x", "%20", "2024-01-"}[rng.IntN(7)]
		post := []string{"", " ", "1", "-2", ".", "x"}[rng.IntN(6)]
		texts = append(texts, pre+v+post)
	}
	texts = append(texts, seeds...)
	for _, g := range benignCorpora {
		m, _ := filepath.Glob(g)
		for _, f := range m {
			if b, err := os.ReadFile(f); err == nil {
				texts = append(texts, string(b))
			}
		}
	}
	found, gated := 0, 0
	for _, s := range texts {
		for i := 0; i+1 < len(s); i++ {
			if !isDigit(s[i]) || !isDigit(s[i+1]) {
				continue
			}
			may := mayNumber(s, i)
			if !may {
				gated++
			}
			if _, start, end := at(s, i, All); end > start {
				found++
				if !may {
					t.Fatalf("mayNumber(%q, %d) is false, but at finds %q", s, i, s[start:end])
				}
			}
		}
	}
	if found < 10000 || gated < 10000 {
		t.Fatalf("only %d values found and %d positions gated: the test proves little", found, gated)
	}
	t.Logf("%d values found, all past the gate; %d positions gated", found, gated)
}
