package waf

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/corazawaf/coraza/v3"
)

// corazaReading is what the CRS's utf8toUnicode,urlDecodeUni chain makes
// of v, asked of Coraza.
func corazaReading(t *testing.T, v string) string {
	t.Helper()
	w, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(
		`SecRuleEngine On
SecRule ARGS:v "@rx ^" "id:1,phase:1,pass,log,t:none,t:utf8toUnicode,t:urlDecodeUni"`))
	if err != nil {
		t.Fatal(err)
	}
	tx := w.NewTransaction()
	defer tx.Close()
	tx.AddGetRequestArgument("v", v)
	tx.ProcessRequestHeaders()
	for _, mr := range tx.MatchedRules() {
		for _, md := range mr.MatchedDatas() {
			return md.Value()
		}
	}
	t.Fatalf("no reading of %q", v)
	return ""
}

// TestLowByteNeutral: the CRS reads other scripts' characters as the low
// byte of their code point (是一个 is "/", NUL, "*"); what the CRS gets
// instead reads as letters where that reading had bytes, keeps every byte
// of the reading that is a look-alike (fullwidth forms, typographic
// quotes) or ASCII, and is as long as the value. The table comes from
// Coraza itself, so a Coraza that reads these otherwise fails here.
func TestLowByteNeutral(t *testing.T) {
	if lowByteReadings() == nil {
		t.Fatal("Coraza's reading of U+0100..U+FFFF is not one byte a character")
	}
	// Other scripts: the reading of what the CRS gets has no byte of
	// syntax that the value's ASCII does not have.
	for _, v := range []string{
		"是一个基于 GTK 的程序", "это мой дом (ок)", "नमस्ते दुनिया", "مرحبا بالعالم", "שלום עולם", "안녕하세요 세계",
		"emoji 😀 and 🎉 and 𠀀", "mixed 中 'x' -- 中中", "bad \xff\xfe utf-8 是",
	} {
		n := lowByteNeutral(v)
		if len(n) != len(v) || utf8.ValidString(n) != utf8.ValidString(v) {
			t.Errorf("lowByteNeutral(%q) = %q: length or validity changed", v, n)
			continue
		}
		rv, rn := corazaReading(t, v), corazaReading(t, n)
		if len(rv) != len(rn) {
			t.Errorf("%q: readings %q and %q differ in length", v, rv, rn)
			continue
		}
		for i := 0; i < len(rn); i++ {
			c := rn[i]
			if rv[i] != c && !(asciiLetter(c) || c >= '0' && c <= '9') {
				t.Errorf("%q: reading byte %d is %q, was %q: not a letter or digit", v, i, c, rv[i])
			}
			if c < 0x80 && !(asciiLetter(c) || c >= '0' && c <= '9' || c == ' ') && strings.IndexByte(v, c) < 0 {
				t.Errorf("%q: the CRS reads %q, with %q, which the value does not have", v, rn, c)
			}
		}
	}
	// Look-alikes are read as the ASCII they look like, as before.
	for _, v := range []string{"＜script＞alert（1）＜／script＞", "it’s “quoted” and ‹that›", "Ā ā Ł ł"} {
		if n := lowByteNeutral(v); corazaReading(t, n) != corazaReading(t, v) {
			t.Errorf("%q became %q: reading %q, was %q", v, n, corazaReading(t, n), corazaReading(t, v))
		}
	}
	if got := corazaReading(t, lowByteNeutral("是一个")); got != "xxx" {
		t.Errorf("是一个 reads as %q, want xxx", got)
	}
	if v := "＜script＞ it’s"; lowByteNeutral(v) != v || !strings.HasPrefix(corazaReading(t, v), "<script>") {
		t.Errorf("look-alikes: %q became %q (reading %q)", v, lowByteNeutral(v), corazaReading(t, v))
	}
	s := sharedStage(t)
	for _, v := range []string{
		`<p data-id="7">यह डेस्कटॉप के लिए एक साधारण टर्मिनल इमुलेटर है ।</p>`,
		`<p data-id="7">أدوات لضبط حاسبك</p>`,
	} {
		if prose(v) {
			t.Fatalf("%q is prose: the check needs a value that goes to the CRS", v)
		}
		b, _ := json.Marshal(map[string]string{"description": v})
		if verdict, err := s.Inspect(exchange(jsonRequest(string(b)))); err != nil || verdict.Blocked {
			t.Errorf("%q in a JSON description: blocked %v (%v), %v", v, verdict.Blocked, verdict.Rules, err)
		}
	}
	for _, v := range []string{
		`＜script＞alert(1)＜/script＞`, `1＇ or ＇1＇=＇1`, `<p class="x">是一个</p> 1' union select password from users--`,
	} {
		b, _ := json.Marshal(map[string]string{"description": v})
		if verdict, err := s.Inspect(exchange(jsonRequest(string(b)))); err != nil || !verdict.Blocked {
			t.Errorf("%q in a JSON description: blocked %v, %v", v, verdict.Blocked, err)
		}
	}
}

func BenchmarkLowByteReadings(b *testing.B) {
	for i := 0; i < b.N; i++ {
		readLowBytes()
	}
}

// FuzzLowByteNeutral: what the CRS gets is as long as the value, as valid
// UTF-8, has the same bytes wherever the value has no character the CRS
// reads as a low byte, and replaces each such character with the
// replacement of its length.
func FuzzLowByteNeutral(f *testing.F) {
	for _, s := range []string{"是一个", "это (ок)", "😀x", "\xff中\xfe", "＜a＞", "plain", "𠀀\U0010FFFF", "ĀāŁ", "乸Ѹ"} {
		f.Add(s)
	}
	lb := lowByteReadings()
	f.Fuzz(func(t *testing.T, v string) {
		n := lowByteNeutral(v)
		if len(n) != len(v) || utf8.ValidString(n) != utf8.ValidString(v) {
			t.Fatalf("lowByteNeutral(%q) = %q: length or validity changed", v, n)
		}
		for i := 0; i < len(v); {
			c, w := utf8.DecodeRuneInString(v[i:])
			d, _ := utf8.DecodeRuneInString(n[i:])
			low := c != utf8.RuneError && (w < 4 && lb.lowByte(c) || w == 4 && (c < 0x100000 && lb.lowByte(c>>4) || c >= 0x100000 && lb.lowByte(c>>8)))
			switch {
			case !low && n[i:i+w] != v[i:i+w]:
				t.Fatalf("%q: %q at %d became %q", v, c, i, d)
			case low && d != map[int]rune{2: lb.r2, 3: lb.r3, 4: lb.r4}[w]:
				t.Fatalf("%q: %q at %d became %q", v, c, i, d)
			}
			i += w
		}
	})
}
