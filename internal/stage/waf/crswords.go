package waf

import (
	"io/fs"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
)

// The CRS ships some of its command vocabularies only inside assembled
// regular expressions (932125's PowerShell aliases, 932370's and 932380's
// Windows commands), not as data files. crsRuleWords reads them back out
// of the rules, so that waf.cmdi knows every command the CRS knows and
// decides itself where one is run (see APITunedRules for why those rules
// are removed).

// crsRuleWords returns the command words of the CRS rules ids in file: the
// finite sets of words of two or more letters and digits that the rules'
// patterns alternate between, with the evasion classes (["^]* between
// letters) taken out.
func crsRuleWords(file string, ids ...int) []string {
	var out []string
	for _, id := range ids {
		pat := crsRulePattern(file, id)
		if pat == "" {
			continue
		}
		pat = strings.ReplaceAll(pat, `["\^]*`, "")
		re, err := syntax.Parse(pat, syntax.Perl)
		if err != nil {
			continue
		}
		out = append(out, wordsOf(re.Simplify())...)
	}
	return out
}

// crsRulePattern returns the @rx pattern of CRS rule id in file, as
// Coraza reads it ("" if the rule has none).
func crsRulePattern(file string, id int) string {
	b, err := fs.ReadFile(coreruleset.FS, "@owasp_crs/"+file)
	if err != nil {
		return ""
	}
	text := strings.ReplaceAll(string(b), "\\\n", "")
	at := strings.Index(text, "id:"+strconv.Itoa(id)+",")
	if at < 0 {
		return ""
	}
	rule := text[strings.LastIndex(text[:at], "SecRule "):at]
	m := regexp.MustCompile(`"@rx ((?:[^"\\]|\\.)*)"`).FindStringSubmatch(rule)
	if m == nil {
		return ""
	}
	return strings.ReplaceAll(m[1], `\"`, `"`)
}

// wordsOf returns the words re matches between two non-word characters
// (see crsRuleWords): it walks the pattern with the set of word prefixes
// read so far, and a prefix is a word where the pattern goes on with
// anything but a letter or digit.
func wordsOf(re *syntax.Regexp) []string {
	var out []string
	emit := func(l []string) {
		for _, w := range l {
			if len(w) >= 2 && plainWord(w) && strings.Trim(w, "0123456789_") != "" {
				out = append(out, w)
			}
		}
	}
	// walk returns the prefixes still open after re; a fresh start ("")
	// after something that is not a word.
	var walk func(re *syntax.Regexp, pre []string) []string
	walk = func(re *syntax.Regexp, pre []string) []string {
		switch re.Op {
		case syntax.OpCapture:
			return walk(re.Sub[0], pre)
		case syntax.OpConcat:
			for _, s := range re.Sub {
				pre = walk(s, pre)
			}
			return pre
		case syntax.OpAlternate:
			var cont []string
			for _, s := range re.Sub {
				cont = append(cont, walk(s, pre)...)
			}
			return dedupe(cont)
		case syntax.OpQuest:
			return dedupe(append(walk(re.Sub[0], pre), pre...))
		}
		if l, ok := wordLanguage(re); ok && len(pre)*len(l) <= 1<<14 {
			next := make([]string, 0, len(pre)*len(l))
			for _, a := range pre {
				for _, b := range l {
					next = append(next, a+b)
				}
			}
			return next
		}
		// Something that is not a word of a few letters follows: the
		// prefixes end here; words may start again inside re and after it.
		emit(pre)
		for _, s := range re.Sub {
			emit(walk(s, []string{""}))
		}
		return []string{""}
	}
	emit(walk(re, []string{""}))
	return dedupe(out)
}

// wordLanguage returns the strings of word characters a literal, a small
// class of letters or digits, or an optional one matches.
func wordLanguage(re *syntax.Regexp) ([]string, bool) {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpLiteral:
		s := strings.ToLower(string(re.Rune))
		return []string{s}, plainWord(s)
	case syntax.OpCharClass:
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if len(out) >= 24 || r > 0x7f || !plainWord(string(r)) {
					return nil, false
				}
				out = append(out, strings.ToLower(string(r)))
			}
		}
		return dedupe(out), true
	case syntax.OpQuest:
		if l, ok := wordLanguage(re.Sub[0]); ok {
			return append(l, ""), true
		}
	}
	return nil, false
}

func dedupe(l []string) []string {
	seen := map[string]bool{}
	out := l[:0]
	for _, s := range l {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
