package waf

import (
	"strings"

	"github.com/corazawaf/coraza/v3/types"
	"github.com/corazawaf/libinjection-go"
	re2 "github.com/wasilibs/go-re2"
)

// A crsRefiner judges one value a CRS rule matched, as it was before the
// rule's transformations: false drops the match. It narrows a rule that fires on a benign class of text (source
// code, documentation) where the attack the rule is for has a shape the
// benign text lacks; the rule still runs, and a refiner only reads the
// values it matched, so it costs nothing on requests the rule passes.
// jsonBody is whether the value is a string of a JSON body.
type crsRefiner func(v string, jsonBody bool) bool

// crsRefiners are the refined CRS rules (issue 17's realistic API
// bodies: Markdown and Go snippets).
var crsRefiners = map[int]crsRefiner{
	// 942100 is libinjection: judged as libinjectionCheck judges it.
	942100: func(v string, _ bool) bool {
		ok, fp := libinjection.IsSQLi(v)
		return !ok || !weakSQLi(v, fp) && !goCommand(v, fp)
	},
	// 920540, a "\u0026" left in a value: in a JSON string it was written
	// "\\u0026", and in text of several lines it is text about escapes
	// (source code, documentation; see lines), which the upstream's JSON decoder
	// keeps as text. The CRS skips this rule for every JSON body; the
	// stage only for such text, since a one-line value escaped twice is
	// how a payload hides from a filter that decodes once. The decoded
	// forms of the value (Variants) are inspected either way.
	920540: func(v string, jsonBody bool) bool {
		return !jsonBody || !lines(v)
	},
	// 942550, JSON in SQL: its first branch is any quoted bracket pair
	// ('[' … ']'), which every code table of quoted characters matches
	// across lines ("'[': true,\n\t']': true"). A JSON literal put into a
	// query is quoted on one line; the operator and json_extract
	// branches are kept as the CRS wrote them.
	942550: func(v string, _ bool) bool { return sqlJSON.MatchString(blanks.Replace(v)) },
	// 933160, a high-risk PHP function called: "file (if it is not
	// already there)" in prose. See phpCall.
	933160: phpCall,
	// 932130, a Unix shell expansion, read with the spaces a shell reads
	// (see cmdLineSpaced), and with the inline code spans of a Markdown
	// text read as names (see docMask: "`zsysnum_${GOOS}.go`").
	932130: func(v string, _ bool) bool {
		if m, ok := docMask(v); ok {
			v = m
		}
		return shellExpr932130.MatchString(cmdLineSpaced(v))
	},
	// 934170 (PHP's data:// wrapper), 941130 and 941170 (a data: URI as
	// a script source) on a data: URI of an image, audio, video, font or
	// PDF that is what it says: see passiveDataURI.
	934170: notPassiveDataURI,
	941130: notPassiveDataURI,
	941170: notPassiveDataURI,
}

func notPassiveDataURI(v string, _ bool) bool { return !passiveDataURI(v) }

// phpCall933160 is CRS 933160's expression with the call's arguments
// captured.
var phpCall933160 = func() *re2.Regexp {
	pat := crsRulePattern("REQUEST-933-APPLICATION-ATTACK-PHP.conf", 933160)
	const tail = `\([^\)]*\)`
	if !strings.HasSuffix(pat, tail) {
		panic("waf: CRS 933160 no longer ends in " + tail)
	}
	// Coraza compiles @rx with (?sm).
	return re2.MustCompile(`(?sm)` + strings.TrimSuffix(pat, tail) + `\(([^\)]*)\)`)
}()

// phpCall reports whether v calls one of 933160's PHP functions, as the
// CRS rule reads it, with arguments PHP can parse: a call whose
// parentheses hold English words, two of them in a row that are not PHP
// operators ("file (if it is not already there)", "file) (from the
// community)"), is a sentence, not PHP, which cannot read two bare names
// in a row.
func phpCall(v string, _ bool) bool {
	for _, m := range phpCall933160.FindAllStringSubmatchIndex(v, 8) {
		if !wordsOnly(v[m[2]:m[3]]) {
			return true
		}
	}
	return false
}

// phpWordOps are the PHP keywords that can stand between two bare names
// in an expression ("a and b", "new Foo", "print x").
var phpWordOps = map[string]bool{"and": true, "or": true, "xor": true, "new": true, "clone": true, "instanceof": true,
	"print": true, "include": true, "include_once": true, "require": true, "require_once": true, "yield": true,
	"throw": true, "fn": true, "function": true, "static": true, "use": true, "as": true, "not": true}

// wordsOnly reports whether args is words of letters, spaces and commas
// with two words in a row (no comma between) of which neither is in
// phpWordOps.
func wordsOnly(args string) bool {
	for i := 0; i < len(args); i++ {
		c := args[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == ' ' || c == '\n' || c == '\t' || c == ',') {
			return false
		}
	}
	prev := ""
	for _, w := range strings.Fields(args) {
		l := strings.ToLower(strings.TrimSuffix(w, ","))
		if prev != "" && !phpWordOps[prev] && !phpWordOps[l] {
			return true
		}
		prev = l
		if strings.HasSuffix(w, ",") {
			prev = ""
		}
	}
	return false
}

// blanks removes what CRS 942550's t:removeWhitespace removes but line
// breaks.
var blanks = strings.NewReplacer(" ", "", "\t", "", "\v", "", "\f", "", "\u00a0", "")

// sqlJSON is CRS 942550's expression with the quoted JSON kept on one
// line and made JSON: an array that opens with a value ('[1,2]',
// '["a"]', '[{…}]') or an object that opens with a quoted key (its
// quote escaped too: "{\"set\":…}", JSON inside a JSON string); a quoted
// bracket of words ("[anon: Go: ...]", a log excerpt in prose) is no JSON
// literal.
var sqlJSON = re2.MustCompile(`(?i)["'` + "`" + `](?:\[\s*(?:\\?["']|[\[\{0-9-]|true|false|null)[^#\]\}\n]*|\{\s*\\?["'][^#\]\}\n]*|[\[\{]\s*)[\]\}]+["'` + "`" + `]|(?:[\-@]>?|<@|@[\?@]|\?(?:(?:)|&|\|#>)|#(?:>>|-)|->>|[<>])["'` + "`" + `](?:[\[\{][^#\]\}\n]*[\]\}]+["'` + "`" + `]|\$[\.\[])|\bjson_extract\b[^\(]*\([^\)]*\)`)

// keepCRSMatch reports whether a match of a refined rule stands: the
// value (or a decoded form of it) that the rule matched, as the stage
// gave it to Coraza before the rule's transformations, passes refine. A
// match on anything else (the path, a cookie, a header) stands.
func (in *inspection) keepCRSMatch(refine crsRefiner, loc string, mds []types.MatchData) bool {
	json := in.jsonBody && strings.HasPrefix(loc, "body:")
	for _, md := range mds {
		name, key := md.Variable().Name(), md.Key()
		if name == "MATCHED_VARS" {
			// A chained rule's second link names the variable its first
			// link matched ("ARGS:json.code"): the same value.
			name, key, _ = strings.Cut(key, ":")
		}
		if !strings.HasPrefix(name, "ARGS") || strings.HasPrefix(name, "ARGS_NAMES") {
			return true
		}
		found := false
		for _, a := range in.args {
			if a.key == key || strings.EqualFold(a.key, key) {
				found = true
				if refine(a.v, json) {
					return true
				}
			}
		}
		if !found {
			return true
		}
	}
	return false
}

// weakSQLi reports whether libinjection's match on v is the expression
// syntax of text that spans lines (source code, comments, Markdown), not
// an injection: v is lines of text (see lines) and the fingerprint fp is only
// strings, barewords, numbers, variables, operators and parentheses, with
// no SQL keyword, function, logic operator, comment, UNION or statement
// separator. libinjection reads the first five tokens as if the value
// were inside a quoted SQL literal, so a quote in the first line of a Go
// comment ("a JSON tag of \"-\".\n// Map values…") makes "sos", the
// whole line one string token. An injection that does something needs one
// of the missing tokens (or, 1=1, --, union, sleep(), ;); a keyword-free
// probe ('-'0) is one line.
func weakSQLi(v, fp string) bool {
	if !lines(v) {
		return false
	}
	for i := 0; i < len(fp); i++ {
		switch fp[i] {
		case 's', 'n', '1', 'v', 'o', '(', ')':
		default:
			return false
		}
	}
	return true
}

// lines reports whether v is text of two or more lines: a line break
// with something but blanks on both sides. A line break at the end
// ("'!'\n") does not make a payload text.
func lines(v string) bool {
	i := strings.IndexByte(v, '\n')
	for i >= 0 {
		if strings.TrimSpace(v[:i]) != "" && strings.TrimSpace(v[i+1:]) != "" {
			return true
		}
		j := strings.IndexByte(v[i+1:], '\n')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// shellExpr932130 is CRS 932130's expression (a Unix shell expansion:
// $(…), ${…}, <(…), /bin/c[a]t).
var shellExpr932130 = re2.MustCompile(`(?sm)` + crsRulePattern("REQUEST-932-APPLICATION-ATTACK-RCE.conf", 932130))

// cmdLineSpaced is Coraza's t:cmdLine but for one step: it deletes
// backslashes, double and single quotes and carets, turns ',' and ';'
// into spaces, folds runs of spaces and lower-cases, and keeps a space
// before '(' or '/'. In a Unix shell, "$ (id)" and "> (x)" are no
// expansions (the characters must touch), and that removal is what makes
// an IRC log line ("<nick> (text)") read as process substitution.
func cmdLineSpaced(v string) string {
	var b strings.Builder
	b.Grow(len(v))
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '\\', '"', '\'', '^':
			continue
		case ',', ';', ' ', '\t', '\n', '\r':
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}
