package waf

import "slices"

// Gates: one Aho-Corasick pass over a value finds which detectors can
// possibly match it, so that ordinary text never reaches their regular
// expressions (Go's regexp costs tens of microseconds per kilobyte; the
// pass costs about a nanosecond a byte, see phrases).

// gate is a bit set of detectors worth running on a value.
type gate uint32

const (
	gateJSCall gate = 1 << iota
	gateJSGlobal
	gateSSJS
	gateMail
	gateDeserialize
	gateXPath
	gateWindows
	gateVBS
	gateSQL
	gateScheme
	gateOOB
	gateSQLFunc
	gateSSTI
	gateWinForIf
	gateDOM
	// gateSQLOrder is "order", which sqlExtra can match only as
	// "order by" (see orderBy): prose orders things all the time.
	gateSQLOrder
	// gateNode: a word that nodeJS cannot match without.
	gateNode
	// gateXSLT: a literal that every branch of xsltExpr holds.
	gateXSLT
	// gateWinIfWord: "==" or a word of winIfWords, one of which every
	// branch of winIf holds.
	gateWinIfWord
)

var (
	gateSet *phrases
	// gatePatterns are the gate phrases and gateOfPattern their gates.
	gatePatterns  []string
	gateOfPattern []gate
)

func init() {
	groups := []struct {
		g     gate
		words []string
	}{
		{gateJSCall, jsCallWords}, {gateJSGlobal, jsGlobalWords}, {gateSSJS, ssjsWords}, {gateNode, nodeWords}, {gateMail, mailWords},
		{gateDeserialize, deserializeWords}, {gateXPath, xpathWords}, {gateWindows, windowsMarkers},
		{gateWindows, []string{"set /a", "%systemroot%", "%windir%", "%comspec%", "%programfiles%", "%temp%\\", "%appdata%", "%userprofile%", "%systemdrive%", "%homedrive%"}},
		{gateVBS, []string{"execute(", "executeglobal", "wscript.", "chr(", "chrw(", "chrb(", "response.write("}},
		{gateOOB, oobMarkers}, {gateSQLFunc, sqlFuncWords}, {gateSSTI, sstiWords}, {gateWinForIf, winForIfWords}, {gateDOM, domWords},
		{gateScheme, []string{"script", "data:", "mocha:", "view-source:", "&#", "\\u", "\\x"}},
		{gateSQLOrder, []string{"order"}},
		{gateXSLT, xsltWords}, {gateWinIfWord, winIfWords},
		{gateSQL, []string{"@@", "utl_", "dbms_", "ctxsys", "sp_password", "xp_cmdshell", "waitfor", "union", "information_schema", "dual", "mysql.", "pg_", "sys.", ";select", "; select", ";insert", ";update", ";delete", "; delete", ";drop", "; drop", ";exec", "; exec", ";declare", "; declare", ";shutdown", "; shutdown", ";waitfor", ";truncate", "; truncate", ";alter", ";create"}},
	}
	for _, g := range groups {
		for _, w := range g.words {
			gatePatterns = append(gatePatterns, w)
			gateOfPattern = append(gateOfPattern, g.g)
		}
	}
	gateSet = newPhrases(gatePatterns, gateOfPattern)
	for i, p := range gatePatterns {
		if gateOfPattern[i]&(gateWindows|gateVBS) != 0 {
			maxShellGate = max(maxShellGate, len(p))
		}
	}
}

// gates returns the detectors worth running on v.
func gates(v string) gate { return gateSet.marks(v) }

// charset is the set of bytes a value holds, computed in one pass so that
// each detector's "does it have any of these characters" test is a few
// bit tests, not another scan of the value.
type charset [4]uint64

func charsetOf(v string) charset {
	var c charset
	for i := 0; i < len(v); i++ {
		b := v[i]
		c[b>>6] |= 1 << (b & 63)
	}
	return c
}

// nonASCII reports whether the value holds a byte outside ASCII. The
// gate automata fold ASCII case only; where a regular expression's (?i)
// also folds ſ and K (U+017F, U+212A) into s and k, its gate lets every
// non-ASCII value through (foldSet.maybe does the same).
func (c *charset) nonASCII() bool { return c[2]|c[3] != 0 }

// any reports whether the value holds any byte of set.
func (c *charset) any(set string) bool {
	for i := 0; i < len(set); i++ {
		b := set[i]
		if c[b>>6]&(1<<(b&63)) != 0 {
			return true
		}
	}
	return false
}

// crsPhrases are the phrase lists the CRS matches values against with
// @pmFromFile (Java classes, OS and restricted files, AI artifacts, PHP
// functions and variables, SSRF targets), from the CRS's own data files.
// A value that holds one is never kept away from the CRS as inert or
// prose: "java.lang.Runtime" and "etc/passwd" are made of harmless
// characters.
var (
	crsPhraseSet      *phrases
	crsPhrasePatterns []string
)

func init() {
	var pats []string
	for _, f := range []string{"java-classes.data", "lfi-os-files.data", "restricted-files.data", "ai-critical-artifacts.data",
		"php-function-names-933150.data", "php-variables.data", "ssrf.data", "ssrf-no-scheme.data"} {
		for _, l := range dataLines(f) {
			if len(l) >= 4 {
				pats = append(pats, l)
			}
		}
	}
	// The Java keywords of CRS 944 (its rules spell them inside regular
	// expressions, some base64-encoded, which the decoders undo).
	pats = append(pats, "runtime", "processbuilder", "clonetransformer", "forclosure", "instantiatefactory",
		"instantiatetransformer", "invokertransformer", "prototypeclonefactory", "prototypeserializationfactory",
		"whileclosure", "getruntime", "classloader")
	crsPhrasePatterns, crsPhraseSet = pats, anyOf(pats)
	marks := slices.Clone(gateOfPattern)
	for range pats {
		marks = append(marks, gateCRSPhrase)
	}
	valueSet = newPhrases(slices.Concat(gatePatterns, pats), marks)
}

// valueSet is the gate phrases and the CRS phrases in one automaton, the
// latter marked gateCRSPhrase: check reads every value with it once, and
// gets both the detectors' gates (gates(v) is its marks without
// gateCRSPhrase) and crsPhrase(v) (TestValueSet), so the prose test does
// not walk the value again. Each walk is a chain of dependent table loads
// (~2-4 ns a byte on the real server): a free-text GET's automaton time went
// from 2.3-2.7 to 1.0-1.5 µs; a 1 KB body value gained nothing, its one walk
// of the larger table costing what the small gate table's had saved.
var valueSet *phrases

// gateCRSPhrase marks a CRS phrase in valueSet; it is no detector's gate.
const gateCRSPhrase gate = 1 << 31

// crsPhrase reports whether v holds one of crsPhrases.
func crsPhrase(v string) bool { return crsPhraseSet.any(v) }

// pathPhraseSet holds the phrases CRS 930130 and 930140 look for in the
// whole path (REQUEST_FILENAME): restricted files and AI agents' files,
// which span segments ("/.claude/settings.json", "/@fs/etc/passwd") and
// are made of harmless characters, so that no segment alone reaches the
// CRS. A path that holds one goes to the CRS, which decides.
var pathPhraseSet = func() *phrases {
	var pats []string
	for _, f := range []string{"restricted-files.data", "ai-critical-artifacts.data"} {
		pats = append(pats, dataLines(f)...)
	}
	return anyOf(pats)
}()

// pathPhrase reports whether the path p holds one of pathPhraseSet.
func pathPhrase(p string) bool { return pathPhraseSet.any(p) }

// orderBy reports whether v holds "order", blanks (RE2's \s) and "by",
// in any case: the only way sqlExtra matches a value whose one SQL gate
// word is "order".
func orderBy(v string) bool {
	for i := 0; i+len("order") <= len(v); i++ {
		if lowerASCII(v[i]) != 'o' || !containsFoldAt(v, i, "order") {
			continue
		}
		j := i + len("order")
		k := j
		for k < len(v) && (v[k] == ' ' || v[k] == '\t' || v[k] == '\n' || v[k] == '\r' || v[k] == '\f') {
			k++
		}
		if k > j && containsFoldAt(v, k, "by") {
			return true
		}
	}
	return false
}

// containsFoldAt reports whether v holds lower (lower-case ASCII) at i,
// in any ASCII case.
func containsFoldAt(v string, i int, lower string) bool {
	if i+len(lower) > len(v) {
		return false
	}
	for j := 0; j < len(lower); j++ {
		if lowerASCII(v[i+j]) != lower[j] {
			return false
		}
	}
	return true
}
