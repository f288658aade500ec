package waf

import (
	"io/fs"
	"regexp"
	"strings"
	"sync"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/libinjection-go"
	re2 "github.com/wasilibs/go-re2"
)

// Refiners for documentation and source code in a field (issue 17's
// realistic API bodies: Markdown paragraphs and Go snippets). Each reads
// only a value a CRS rule (or libinjection) already matched, so a request
// the rule passes pays nothing; each drops the match only when the value
// has the shape of its benign class and the attack's shape is gone once
// that class is read as such.

func init() {
	for _, id := range []int{932230, 932235, 932250, 942190} {
		crsRefiners[id] = docRuleRefiner(id)
	}
	// 933135 (PHP "${…}"), with code spans read as names (932130 in
	// refine.go does the same).
	crsRefiners[933135] = func(v string, _ bool) bool {
		if m, ok := docMask(v); ok {
			return phpVarExpr933135.MatchString(m)
		}
		return true
	}
	// 941100 is libinjection's XSS check, judged as libinjectionCheck
	// judges it; 941160 without the plain style sheets.
	crsRefiners[941100] = func(v string, _ bool) bool { return !plainStyleSheet(v) }
	crsRefiners[941160] = func(v string, _ bool) bool {
		if codeText(v) {
			return false
		}
		rest, sheets := stripStyleSheets(v)
		rest, tags := stripFormatTags(rest)
		return !sheets && !tags || html941160.MatchString(rest)
	}
	for _, id := range []int{920270, 933150, 933210, 942360, 942540} {
		crsRefiners[id] = func(v string, _ bool) bool { return !codeText(v) }
	}
	crsRefiners[934110] = func(v string, _ bool) bool { return !inSentence(v, ssrfPhrases(), false) }
	crsRefiners[930120] = func(v string, _ bool) bool { return !inSentence(v, lfiPhrases(), true) }
	crsRefiners[932160] = func(v string, _ bool) bool { return !inSentence(v, shellPhrases(), true) }
	crsRefiners[942290] = func(v string, _ bool) bool { return mongoOperator942290.MatchString(v) }
	crsRefiners[932340] = func(v string, _ bool) bool { return matchAtWordStart(directCmd932340, v) }
}

// directCmd932340 is CRS 932340's expression (a Unix command named on its
// own). It has no left boundary: in "runtime files for kdesu" and "HDF5 -
// Runtime tools" it finds the command time inside the word runtime.
var directCmd932340 = re2.MustCompile(`(?sm)` + crsRulePattern("REQUEST-932-APPLICATION-ATTACK-RCE.conf", 932340))

// matchAtWordStart reports whether re matches v somewhere other than
// inside a word: a match that begins with a byte other than an ASCII
// letter, digit or '_' (";ps", "&aptitude", "x;ps"), or after one, or at
// the start. A shell splits words at blanks and operators, so a command
// inside a word ("runtime" holds time) runs nothing; a quote, a
// backslash, a non-ASCII byte or any operator before it keeps the match.
// Past 64 matches inside words the match stands.
func matchAtWordStart(re *re2.Regexp, v string) bool {
	for pos, n := 0, 0; pos <= len(v) && n < 64; n++ {
		loc := re.FindStringIndex(v[pos:])
		if loc == nil {
			return false
		}
		at := pos + loc[0]
		if at == 0 || !asciiWordByte(v[at-1]) || !asciiWordByte(v[at]) {
			return true
		}
		pos = at + 1
	}
	return true
}

// mongoOperator942290 is CRS 942290's expression (a MongoDB operator after
// '$') with the operator ending where a name ends: "$FunctionName" and
// "$PassName1" in a build note are names that begin like $function and
// $pa…; "$function" and "[$ne]" stay operators.
var mongoOperator942290 = re2.MustCompile(`(?sm)(?:` + crsRulePattern("REQUEST-942-APPLICATION-ATTACK-SQLI.conf", 942290) + `)(?:[^0-9A-Za-z_]|$)`)

// phpVarExpr933135 is CRS 933135's expression (PHP "${…}" variable
// access).
var phpVarExpr933135 = re2.MustCompile(`(?sm)` + crsRulePattern("REQUEST-933-APPLICATION-ATTACK-PHP.conf", 933135))

// docRuleFiles are the CRS files of the rules docRuleRefiner refines.
var docRuleFiles = map[int]string{
	932230: "REQUEST-932-APPLICATION-ATTACK-RCE.conf",
	932235: "REQUEST-932-APPLICATION-ATTACK-RCE.conf",
	932250: "REQUEST-932-APPLICATION-ATTACK-RCE.conf",
	942190: "REQUEST-942-APPLICATION-ATTACK-SQLI.conf",
}

// docRuleRefiner refines a CRS rule that reads shell or SQL syntax into
// the Markdown of a documentation field. The match stands unless, read
// the way a shell or a query reads it, the syntax is gone:
//
//   - the Unix command rules (932230, 932235, 932250) let a prefix
//     command ("time", "command", "env", "watch") run whatever follows
//     it through ".*", and Coraza compiles every @rx with (?s), so in text
//     of several lines "runtime annotates …" matched the "ls" of
//     "details, see" two lines further on. A shell's prefix command runs
//     the rest of its own line only; the rule's expression is applied
//     again with '.' stopping at line breaks (the branch for a command
//     after a line break is unchanged);
//   - in text of several lines with inline code spans or link targets
//     (see docMask), the expression is applied to the text with the
//     spans read as the names they are.
//
// The expressions are compiled on first use (the CRS command lists are
// large and most processes never refine them).
func docRuleRefiner(id int) crsRefiner {
	var once sync.Once
	var re *re2.Regexp
	flags := `(?sm)`
	if docRuleFiles[id] == "REQUEST-932-APPLICATION-ATTACK-RCE.conf" {
		flags = `(?m)`
	}
	return func(v string, _ bool) bool {
		m, ok := docMask(v)
		if !ok && flags == `(?sm)` {
			return true
		}
		once.Do(func() {
			if p := crsRulePattern(docRuleFiles[id], id); p != "" {
				re = re2.MustCompile(flags + p)
			}
		})
		if re == nil {
			return true
		}
		if flags == `(?m)` {
			// A shell command begins a word: "runtime" holds no time
			// (matchAtWordStart).
			return matchAtWordStart(re, m)
		}
		return re.MatchString(m)
	}
}

// plainExpansion is a shell or PHP expansion of a variable by name only
// ("${GOOS}"): it reads a value and runs nothing. ${IFS} is kept out: it
// is how injections write a space.
var plainExpansion = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// docMask returns v with its Markdown inline code spans read as names
// (maskCodeSpans) and its link targets as links ("[cmd/go
// documentation](https://pkg.go.dev/cmd/go#hdr-…)" → "[…](x)"), when v
// is text of several lines (lines) around them. Inside a span, a plain
// expansion of a variable by name ("`types_${GOOS}.go`", a file name
// template) is read as the name; a span that holds any other shell syntax
// keeps v as it is (false).
func docMask(v string) (string, bool) {
	if !lines(v) || !strings.Contains(v, "`") && !strings.Contains(v, "](") {
		return v, false
	}
	masked := false
	if strings.Contains(v, "](") {
		if m := mdLink.ReplaceAllString(v, "](x)"); m != v {
			v, masked = m, true
		}
	}
	if !strings.Contains(v, "`") {
		run := 0
		return v, masked && countWords(v+" ", &run) >= 4
	}
	if strings.Contains(v, "${") {
		var b strings.Builder
		rest := v
		for {
			i := strings.IndexByte(rest, '`')
			if i < 0 {
				break
			}
			j := strings.IndexByte(rest[i+1:], '`')
			if j < 0 {
				break
			}
			span := rest[i+1 : i+1+j]
			span = plainExpansion.ReplaceAllStringFunc(span, func(e string) string {
				if strings.EqualFold(e, "${IFS}") {
					return e
				}
				return e[2 : len(e)-1]
			})
			b.WriteString(rest[:i+1])
			b.WriteString(span)
			b.WriteByte('`')
			rest = rest[i+1+j+1:]
		}
		b.WriteString(rest)
		v = b.String()
	}
	return maskCodeSpans(v)
}

// mdLink is the target of a Markdown inline link: "](" and a URL or path
// without blanks, parentheses or shell syntax, then ")".
var mdLink = regexp.MustCompile("\\]\\([^\\s()<>;|&$`'\"]+\\)")

// codeText reports whether v is a block of source code: three or more
// lines, at least two thirds of them comments ("//", "#", "/*", "*") or
// lines that end the way statements, blocks and literals end in C-like
// languages ("{", "}", ",", ";", "(", ")", ":"). A Go snippet's
// identifiers (ReadDir, Create … from), quoted character tables (`';'`)
// and tag strings (`"<STYLE"`) are names and data of the program, not a
// query or markup the value injects; an injection is a fragment, and a
// fragment padded with lines of code is still judged by libinjection, the
// built-in detectors and every other CRS rule.
func codeText(v string) bool {
	n, code := 0, 0
	for _, l := range strings.Split(v, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		n++
		switch {
		case strings.HasPrefix(l, "//"), strings.HasPrefix(l, "/*"), strings.HasPrefix(l, "* "), strings.HasPrefix(l, "# "):
			code++
		case strings.IndexByte("{},;():", l[len(l)-1]) >= 0:
			code++
		}
	}
	return n >= 3 && 3*code >= 2*n
}

// crsData returns the phrases of a CRS data file, lower-cased, once.
func crsData(name string) func() []string {
	var once sync.Once
	var out []string
	return func() []string {
		once.Do(func() {
			b, err := fs.ReadFile(coreruleset.FS, "@owasp_crs/"+name)
			if err != nil {
				return
			}
			for _, l := range strings.Split(string(b), "\n") {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
					out = append(out, strings.ToLower(l))
				}
			}
		})
		return out
	}
}

var (
	ssrfPhrases  = crsData("ssrf.data")
	lfiPhrases   = crsData("lfi-os-files.data")
	shellPhrases = crsData("unix-shell.data")
)

// inSentence reports whether every phrase of a CRS list (934110's
// "http://localhost", 930120's "/proc/", 932160's "proc/self") that v
// holds is named in a sentence: the word it is part of (from the blank
// before it) follows two or more words on its line with no shell syntax
// among them (; | & $ ` < >), and v has four or more words ("These
// annotations appear in /proc/self/maps", "Then open
// http://localhost:6060/doc/next."). An SSRF or file-inclusion payload
// is the URL or path itself, or a command that reads it ("cat
// /etc/passwd", "; cat /proc/self/environ"). With multiline, v must also
// be text of several lines (lines).
func inSentence(v string, phrases []string, multiline bool) bool {
	if len(phrases) == 0 || multiline && !lines(v) {
		return false
	}
	l := strings.ToLower(v)
	run := 0
	if countWords(l+" ", &run) < 4 {
		return false
	}
	found := false
	for _, p := range phrases {
		for at := 0; ; {
			i := strings.Index(l[at:], p)
			if i < 0 {
				break
			}
			i += at
			found = true
			w := strings.LastIndexAny(l[:i], " \t\n") // the word's start
			if w < 0 {
				return false
			}
			line := l[strings.LastIndexByte(l[:w], '\n')+1 : w]
			run = 0
			if strings.ContainsAny(line, ";|&$`<>") || countWords(line+" ", &run) < 2 {
				return false
			}
			at = i + len(p)
		}
	}
	return found
}

// goCommand reports whether libinjection's fingerprint fp of v holds a
// T-SQL word only because v says "go" before a word ("GOSSAFUNC=… go
// build", "pure Go embedded SQL database", "idiomatic Go (golang)
// validation"): T-SQL's GO ends a batch on a line of its own (at most a
// count after it), never before a word, and it is a command of the client
// tools, not of the server. With that "go" read as a name, libinjection
// judges the rest: "a\" go drop table x" is still SQL.
func goCommand(v, fp string) bool {
	if strings.Count(fp, "T") != 1 || !goSubcommand.MatchString(v) {
		return false
	}
	ok, _ := libinjection.IsSQLi(goSubcommand.ReplaceAllString(v, "${1}gx$2"))
	return !ok
}

// keywordProse reports a libinjection fingerprint of words only in a value
// that is a sentence: it starts with a name and holds no string, number,
// variable, comment, union or statement end ("Find and load configuration
// from different locations" is n&knk, "ALSA Use Case Manager" nTEnn). An
// injection needs one of those to leave the value's place in a query: a
// quote out of a string, a number or a union after a number, a comment or
// a ';' to cut the rest off.
func keywordProse(v, fp string) bool {
	if fp == "" || fp[0] != 'n' || strings.Trim(fp, "nkETo&f()tA") != "" {
		return false
	}
	return prose(v)
}

// goSubcommand is the word "go", in any case, before a word on its line.
var goSubcommand = regexp.MustCompile(`(?i)(^|[\s"'(])go([ \t]+[a-z(])`)

// styleBlock is an inline style sheet: "<style>", CSS of selectors and
// declarations only, "</style>". No URL, call, at-rule, escape or quote
// can be written in it (no '(', '@', '\\', '/', quotes, '<', '&'), and
// with them every way CSS has to load or run script (url(),
// expression(), @import, behavior, -moz-binding).
var styleBlock = regexp.MustCompile(`(?i)<style>[\w\s{}:;.,#%*>+~\[\]=-]*</style>`)

// cssScript are the CSS words that bind script without a parenthesis.
var cssScript = regexp.MustCompile(`(?i)behavior|binding|javascript|expression`)

// plainStyleSheet reports whether libinjection's XSS match on v is only
// inline style sheets of plain declarations (see styleBlock): with them
// removed, libinjection finds no XSS. A Markdown document may carry one
// ("<style>\n main ul li { margin: 0.5em 0; }\n</style>").
func plainStyleSheet(v string) bool {
	rest, ok := stripStyleSheets(v)
	return ok && !libinjection.IsXSS(rest)
}

// stripFormatTags returns v with the formatting tags of rich text that
// prose takes (formatTag: an image with a src of a web page, a paragraph
// with a plain style) as spaces, and whether it had any. CRS 941160 reads
// every tag with a src or style attribute as HTML injection.
func stripFormatTags(v string) (string, bool) {
	var b strings.Builder
	last := 0 // v[:last] is in b
	for i := strings.IndexByte(v, '<'); i >= 0; {
		next := i + 1
		if k := formatTag(v, i); k > 0 {
			b.WriteString(v[last:i])
			b.WriteByte(' ')
			last, next = i+k, i+k
		}
		j := strings.IndexByte(v[next:], '<')
		if j < 0 {
			break
		}
		i = next + j
	}
	if last == 0 {
		return v, false
	}
	b.WriteString(v[last:])
	return b.String(), true
}

// cssDecls are plain CSS declarations, as rich-text editors write them
// in a style attribute ("text-align: center;", "color: #e03e2d;",
// CKEditor's "hsl(0, 75%, 60%)"): names, numbers, colours and keywords,
// and no call but a colour's, so no url(), expression() or escape.
const cssDecls = `(?:[\w\s:;.,#%!-]|(?i:rgba?|hsla?)\([\d\s.,%]*\))*`

// styleAttr is a style attribute of plain declarations (cssDecls).
var styleAttr = regexp.MustCompile(`(?i)\sstyle\s*=\s*(?:"` + cssDecls + `"|'` + cssDecls + `')`)

var plainDecls = regexp.MustCompile(`^` + cssDecls + `$`)

// plainCSS reports whether v is plain declarations (cssDecls) with no CSS
// word that binds script (cssScript).
func plainCSS(v string) bool { return plainDecls.MatchString(v) && !cssScript.MatchString(v) }

// stripStyleSheets returns v without its plain inline style sheets
// (styleBlock) and plain style attributes (styleAttr), and whether it had
// any.
func stripStyleSheets(v string) (string, bool) {
	sheet, attr := containsFold(v, "<style>"), containsFold(v, "style")
	if !sheet && !attr {
		return v, false
	}
	plain := func(b string) string {
		if cssScript.MatchString(b) {
			return b
		}
		return " "
	}
	rest := v
	if sheet {
		rest = styleBlock.ReplaceAllStringFunc(rest, plain)
	}
	if attr {
		rest = styleAttr.ReplaceAllStringFunc(rest, plain)
	}
	return rest, rest != v
}

// html941160 is CRS 941160's expression (NoScript's HTML injection
// check: "<style", "<script", event handlers, …).
var html941160 = re2.MustCompile(`(?sm)` + crsRulePattern("REQUEST-941-APPLICATION-ATTACK-XSS.conf", 941160))
