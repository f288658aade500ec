package waf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestContainsFold compares containsFold with lower-casing first, on
// values around the edges (case mixes, a partial word at the end,
// overlapping starts, non-ASCII text).
func TestContainsFold(t *testing.T) {
	for _, v := range []string{"", "r", "return", "RETURN", "ReTuRn x", "x retur", "rreturn", "re return", "retuRN;",
		"Ünïcödé return", "réturn", "RETURNED", "turn", "a;b", "ret\x00urn", "returnreturn"} {
		for _, sub := range []string{"return", "r", "eval(", ""} {
			if got, want := containsFold(v, sub), strings.Contains(strings.ToLower(v), sub); got != want {
				t.Errorf("containsFold(%q, %q) = %v, want %v", v, sub, got, want)
			}
		}
	}
}

// TestMaxReconCommand: detectShell skips the map lookup for values longer
// than maxReconCommand, so it must be the longest command.
func TestMaxReconCommand(t *testing.T) {
	for c := range reconCommands {
		if len(c) > maxReconCommand {
			t.Errorf("recon command %q is longer than maxReconCommand (%d)", c, maxReconCommand)
		}
	}
}

// corpusPayloads returns every payload of the committed corpus files.
func corpusPayloads(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/corpus/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	var values []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c struct{ Payloads []string }
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		values = append(values, c.Payloads...)
	}
	return values
}

// TestFoldSetsAgreeWithLowerCasing compares each foldSet with
// lower-casing and strings.Contains on every committed corpus value, in
// upper case too, and with a marker spliced into ASCII and non-ASCII text.
func TestFoldSetsAgreeWithLowerCasing(t *testing.T) {
	var values []string
	for _, v := range corpusPayloads(t) {
		values = append(values, v, strings.ToUpper(v))
	}
	sets := map[string][]string{"scanner": scannerMarkers, "oob": oobMarkers, "user agents": scannerNames()}
	for _, list := range sets {
		for _, m := range list[:min(len(list), 20)] {
			values = append(values, "Mozilla/5.0 "+strings.ToUpper(m[:len(m)/2])+m[len(m)/2:], "Ünïcode "+m+" ✓", m[:len(m)-1]+"\u212a")
		}
	}
	found := 0
	for name, list := range sets {
		set := newFoldSet(list)
		for _, v := range values {
			want := false
			l := strings.ToLower(v)
			for _, m := range list {
				if strings.Contains(l, m) {
					want = true
					break
				}
			}
			if got := set.in(v); got != want {
				t.Fatalf("%s set: in(%q) = %v, lower-casing says %v", name, v, got, want)
			}
			if want {
				found++
			}
		}
	}
	if found < 100 {
		t.Fatalf("only %d values hold a marker: the comparison means little", found)
	}
}

// TestGatesAreNecessary: the cheap tests put before some expressions must
// hold wherever the expression matches (a gate may let through what does
// not match, never keep back what does), on every committed corpus value
// and on shapes written for each branch.
func TestGatesAreNecessary(t *testing.T) {
	values := []string{`if exist c:\x del x`, `IF /I "%a%"=="b" echo`, `if %x% EQU 1 calc`, `if not defined X set`,
		`if errorlevel 1 goto`, `if a==b cmd`, `x=1;if [1]==[1] id`, `if (%a%) == (b) x`, `IF EXIST ſ`, `<xsl:value-of select="system-property('xsl:vendor')"/>`, `php:function('system','id')`,
		`RUNTIME:exec(x)`, `<XSL:Template match="/">`, `ſystem-property('xsl:version')`, "' and 1=1", "or 2<>3", "(4521=4521", "'1'!='2"}
	values = append(values, corpusPayloads(t)...)
	matched := map[string]int{}
	for _, v := range values {
		cs := charsetOf(v)
		if winIf.MatchString(v) {
			matched["winIf"]++
			if gates(v)&gateWinIfWord == 0 && !cs.nonASCII() {
				t.Errorf("winIf matches %q, but its gate keeps it back", v)
			}
		}
		if xsltExpr.MatchString(v) {
			matched["xsltExpr"]++
			if gates(v)&gateXSLT == 0 && !cs.nonASCII() {
				t.Errorf("xsltExpr matches %q, but its gate keeps it back", v)
			}
		}
		if sqlNumCmp.MatchString(v) {
			matched["sqlNumCmp"]++
			if !(cs.any("=<") && cs.any("0123456789")) {
				t.Errorf("sqlNumCmp matches %q, but its gate keeps it back", v)
			}
		}
	}
	if matched["winIf"] < 8 || matched["sqlNumCmp"] < 20 || matched["xsltExpr"] < 5 {
		t.Fatalf("too few matches to mean anything: %v", matched)
	}
	t.Logf("matches checked: %v", matched)
}

// TestValueSet: the one automaton check reads a value with answers both
// questions it replaced: its marks without gateCRSPhrase are gates(v),
// and gateCRSPhrase is crsPhrase(v), on every committed corpus value, in
// upper case, and with every gate and CRS phrase in a sentence.
func TestValueSet(t *testing.T) {
	var values []string
	for _, v := range corpusPayloads(t) {
		values = append(values, v, strings.ToUpper(v))
	}
	for _, p := range append(append([]string(nil), gatePatterns...), crsPhrasePatterns...) {
		values = append(values, "the "+p+" of it", "I'm "+strings.ToUpper(p)+"'s", p[:len(p)-1])
	}
	phrasesFound := 0
	for _, v := range values {
		m, cs := valueSet.marksAndBytes(v)
		if cs != charsetOf(v) || m != valueSet.marks(v) {
			t.Fatalf("valueSet.marksAndBytes(%q) is not marks and charsetOf", v)
		}
		if g := m &^ gateCRSPhrase; g != gates(v) {
			t.Fatalf("valueSet.marks(%q) without the CRS bit = %b, gates = %b", v, g, gates(v))
		}
		if got, want := m&gateCRSPhrase != 0, crsPhrase(v); got != want {
			t.Fatalf("valueSet's CRS bit for %q = %v, crsPhrase = %v", v, got, want)
		}
		if m&gateCRSPhrase != 0 {
			phrasesFound++
		}
	}
	if phrasesFound < 2000 {
		t.Fatalf("only %d values hold a CRS phrase: the comparison means little", phrasesFound)
	}
}

// FuzzValueSet holds valueSet to gates and crsPhrase on any input.
func FuzzValueSet(f *testing.F) {
	for _, s := range []string{"java.lang.Runtime", "etc/passwd", "union select", "the runtime of it", "<script>", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if m, cs := valueSet.marksAndBytes(v); m != valueSet.marks(v) || cs != charsetOf(v) {
			t.Fatalf("valueSet.marksAndBytes(%q) is not marks and charsetOf", v)
		}
		m := valueSet.marks(v)
		if m&^gateCRSPhrase != gates(v) || (m&gateCRSPhrase != 0) != crsPhrase(v) {
			t.Fatalf("valueSet.marks(%q) = %b; gates %b, crsPhrase %v", v, m, gates(v), crsPhrase(v))
		}
	})
}
