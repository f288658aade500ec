package waf

import (
	"bytes"
	"regexp/syntax"
	"slices"
	"strings"

	"github.com/corazawaf/coraza/v3/types"
	re2 "github.com/wasilibs/go-re2"
)

// Regular expressions in JSON Schema documents. A schema's "pattern"
// values and "patternProperties" names are regular expressions by the
// schema's grammar (JSON Schema, OpenAPI, and the tool definitions of
// every LLM function-calling API carry them), and their syntax is other
// languages' syntax too: a counted repetition "[a-z]{0,63}" is bash brace
// expansion to CRS 932280, a class after a slash "/[a-z0-9-]+" a glob to
// 932130, a "\u0000" in a class an escape to 920540 and, decoded, a NUL
// to 920270. Half of the CloudFormation resource schemas cfn-lint ships
// were refused on them. Where a value is such a regular expression and
// parses as one, those rules judge it with the regular expression's own
// syntax read as regex syntax (maskRegex): its character classes,
// escapes, anchors and counted repetitions are not text. Its literal
// text is still read by them, and the value still goes through every
// other rule and detector as it is.

// schemaRegex reports whether the JSON body string at ptr is a regular
// expression by JSON Schema's grammar: the value of a "pattern" member, or
// a member name inside "patternProperties" (key).
func schemaRegex(ptr []byte, key bool) bool {
	i := bytes.LastIndexByte(ptr, '/')
	if i < 0 {
		return false
	}
	if !key {
		return string(ptr[i+1:]) == "pattern"
	}
	parent := ptr[:i]
	return bytes.HasSuffix(parent, []byte("/patternProperties"))
}

// markRegex records what of the JSON body string s at ptr (a member name
// when key) is a schema's regular expression: its location
// (in.regexLocs; value marks the arguments it makes), and the argument names Coraza reads that hold one, with
// it masked (in.regexNames): "name:" and the member name of a
// patternProperties entry, and the path of every value under one.
func (in *inspection) markRegex(ptr []byte, s string, key bool) {
	if !key && schemaRegex(ptr, false) {
		in.setRegexLoc(ptr)
	}
	if !bytes.Contains(ptr, []byte("/patternProperties/")) {
		return
	}
	segs := bytes.Split(ptr, []byte("/"))
	masked := false
	for i := 1; i < len(segs); i++ {
		if string(segs[i-1]) != "patternProperties" {
			continue
		}
		seg := strings.NewReplacer("~1", "/", "~0", "~").Replace(string(segs[i]))
		if m, ok := maskRegex(seg); ok {
			segs[i] = []byte(strings.NewReplacer("~", "~0", "/", "~1").Replace(m))
			masked = true
			if key && i == len(segs)-1 {
				in.setRegexLoc(ptr)
				in.setRegexName("name:"+s, "name:"+m)
			}
		}
	}
	if masked && !key {
		in.setRegexName(argKey(ptr), argKey(bytes.Join(segs, []byte("/"))))
	}
}

func (in *inspection) setRegexLoc(ptr []byte) {
	if in.regexLocs == nil {
		in.regexLocs = make(map[string]bool)
	}
	in.regexLocs["body:"+string(ptr)] = true
}

func (in *inspection) setRegexName(name, masked string) {
	if in.regexNames == nil {
		in.regexNames = make(map[string]string)
	}
	in.regexNames[name] = masked
}

// maskRegex returns v with its regular expression syntax replaced, and
// whether v parses as a regular expression (RE2's Perl syntax with
// ECMA-262's \uXXXX, which covers what schemas use; one that does not
// parse, a lookahead say, is judged as text):
// a character class or a class escape (\d, \p{L}, \u0041) becomes "x",
// anchors, counted repetitions and group prefixes ("(?:", "(?<n>") go,
// an alternation's '|' is a blank, and an escaped character is the
// character. "^snap-[0-9a-zA-Z]{1,63}$"
// reads "snap-x"; "/bin/{cat,ls}" is unchanged.
func maskRegex(v string) (string, bool) {
	if !isRegex(v) {
		return v, false
	}
	return maskRegexSyntax(v), true
}

// isRegex reports whether v parses as a regular expression of the
// ECMA-262 dialect JSON Schema names, read with RE2's parser: its
// \uXXXX escapes as \x{XXXX}, its lookarounds as groups and \Z as \z
// (RE2 has none of them; they change what matches, not the grammar).
func isRegex(v string) bool {
	p := v
	if strings.Contains(v, `\u`) {
		p = ecmaEscape.ReplaceAllString(p, `\x{$1}`)
	}
	if strings.Contains(p, "(?") {
		p = lookaround.Replace(p)
	}
	if strings.Contains(p, `\Z`) {
		p = strings.ReplaceAll(p, `\Z`, `\z`)
	}
	_, err := syntax.Parse(p, syntax.Perl)
	if e, ok := err.(*syntax.Error); ok && (e.Code == syntax.ErrInvalidRepeatSize || e.Code == syntax.ErrLarge) {
		return true // "{3,1016}": past RE2's limit of 1000, not its grammar
	}
	return err == nil
}

var lookaround = strings.NewReplacer("(?<=", "(?:", "(?<!", "(?:", "(?=", "(?:", "(?!", "(?:")

// maskRegexSyntax is maskRegex without the parse, for the decodings of a
// value that parsed.
func maskRegexSyntax(v string) string {
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			n := regexEscapeLen(v, i)
			if n == 2 && !isWordByte(v[i+1]) {
				b.WriteByte(v[i+1]) // \. \/ \- are the character
			} else {
				b.WriteByte('x')
			}
			i += n - 1
		case '[':
			i = classEnd(v, i)
			b.WriteByte('x')
		case '{':
			if n := countedRepeatLen(v, i); n > 0 {
				i += n - 1
				continue
			}
			b.WriteByte(c)
		case '^':
			// An anchor where one goes: first, or after '(' or '|'.
			if i > 0 && v[i-1] != '(' && v[i-1] != '|' {
				b.WriteByte(c)
			}
		case '$':
			if i+1 < len(v) && v[i+1] != ')' && v[i+1] != '|' {
				b.WriteByte(c) // "${x}" is no anchor
			}
		case '|':
			b.WriteByte(' ') // alternation, no pipe
		case '(':
			b.WriteByte('(')
			if i+1 < len(v) && v[i+1] == '?' {
				// (?: (?i) (?= (?! (?<name> (?P<name>: up to where the
				// group's own text starts.
				j := i + 2
				for j < len(v) && v[j] != ':' && v[j] != ')' && v[j] != '>' && v[j] != '=' && v[j] != '!' {
					j++
				}
				i = j
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// regexEscapeLen is the length of the escape at v[i] ('\\'): \uXXXX,
// \xHH, \x{…}, \p{…} and \pL, or '\\' and one byte.
func regexEscapeLen(v string, i int) int {
	if i+1 >= len(v) {
		return 1
	}
	switch v[i+1] {
	case 'u':
		if i+5 < len(v) && ishex(v[i+2]) && ishex(v[i+3]) && ishex(v[i+4]) && ishex(v[i+5]) {
			return 6
		}
	case 'x', 'p', 'P':
		if i+2 < len(v) && v[i+2] == '{' {
			if k := strings.IndexByte(v[i+2:], '}'); k > 0 {
				return k + 3
			}
		}
		if v[i+1] == 'x' && i+3 < len(v) && ishex(v[i+2]) && ishex(v[i+3]) {
			return 4
		}
		if v[i+1] != 'x' && i+2 < len(v) {
			return 3
		}
	}
	return 2
}

// classEnd is the index of the ']' that ends the character class opened
// at v[i] (a ']' first in it, after an optional '^', is a member; escapes
// are skipped), or the last index of v.
func classEnd(v string, i int) int {
	j := i + 1
	if j < len(v) && v[j] == '^' {
		j++
	}
	if j < len(v) && v[j] == ']' {
		j++
	}
	for ; j < len(v); j++ {
		switch v[j] {
		case '\\':
			j += regexEscapeLen(v, j) - 1
		case ']':
			return j
		}
	}
	return len(v) - 1
}

// countedRepeatLen is the length of a counted repetition at v[i] ("{3}",
// "{1,}", "{0,63}"), 0 for anything else.
func countedRepeatLen(v string, i int) int {
	j := i + 1
	digits := func() int {
		k := j
		for j < len(v) && v[j] >= '0' && v[j] <= '9' {
			j++
		}
		return j - k
	}
	if digits() == 0 {
		return 0
	}
	if j < len(v) && v[j] == ',' {
		j++
		digits()
	}
	if j >= len(v) || v[j] != '}' {
		return 0
	}
	return j + 1 - i
}

// regexRules are the CRS rules that read a regular expression's syntax as
// an attack's, each as it would judge the masked value (maskRegex).
var regexRules = map[int]func(masked string) bool{
	932280: brace932280.MatchString,
	932130: func(m string) bool { return shellExpr932130.MatchString(cmdLineSpaced(m)) },
	920540: escape920540.MatchString,
	920270: func(m string) bool { return strings.IndexByte(m, 0) >= 0 },
	933180: phpVarCall933180.MatchString,
}

var (
	ecmaEscape       = re2.MustCompile(`\\u([0-9A-Fa-f]{4})`)
	brace932280      = re2.MustCompile(`(?sm)` + crsRulePattern("REQUEST-932-APPLICATION-ATTACK-RCE.conf", 932280))
	escape920540     = re2.MustCompile(`(?sm)` + crsRulePattern("REQUEST-920-PROTOCOL-ENFORCEMENT.conf", 920540))
	phpVarCall933180 = re2.MustCompile(`(?sm)` + crsRulePattern("REQUEST-933-APPLICATION-ATTACK-PHP.conf", 933180))
)

// keepRegexMatch reports whether CRS rule id's match stands: false when
// every value it matched is a schema's regular expression (arg.regex) or
// an argument name holding one (in.regexNames) whose masked form the rule
// does not match.
func (in *inspection) keepRegexMatch(id int, mds []types.MatchData) bool {
	judge, ok := regexRules[id]
	if !ok || len(in.regexLocs) == 0 {
		return true
	}
	for _, md := range mds {
		name, key := md.Variable().Name(), md.Key()
		if name == "MATCHED_VARS" {
			name, key, _ = strings.Cut(key, ":")
		}
		if name == "ARGS_NAMES" {
			// An argument's name: the JSON path to a value under a
			// patternProperties regular expression, or the name of
			// one ("name:^[a-z]{1,64}$").
			m, ok := in.regexNames[md.Value()]
			if !ok || judge(m) {
				return true
			}
			continue
		}
		if !strings.HasPrefix(name, "ARGS") {
			return true
		}
		// Every argument of that name (two JSON paths can make one)
		// must be a regular expression the rule misread.
		found := false
		for _, a := range in.args {
			if a.key != key {
				continue
			}
			found = true
			if !a.regex || judge(maskRegexSyntax(a.v)) {
				return true
			}
		}
		if !found {
			return true
		}
	}
	return false
}

// regexHits keeps, of the detectors' hits on a schema's regular
// expression v (in.hits[from:]), those the same detector also finds in v
// without its syntax (maskRegexSyntax): "(aws[a-z-]*)?:iam::(\\d{12}|aws)"
// is no pipe into the aws command, and the masked form's own misreadings
// ("(a) (b)", an LDAP filter) were never in v. An attack written as a
// pattern is the same text masked, and is found in both.
func (in *inspection) regexHits(from int, loc, v string, header bool) {
	found := in.hits[from:]
	kept := append([]hit(nil), found...)
	in.hits = in.hits[:from]
	m := maskRegexSyntax(v)
	in.check(loc, m, header)
	var again []string
	for _, h := range in.hits[from:] {
		again = append(again, h.rule)
	}
	in.hits = in.hits[:from]
	for _, h := range kept {
		if slices.Contains(again, h.rule) {
			in.hits = append(in.hits, h)
		}
	}
}
