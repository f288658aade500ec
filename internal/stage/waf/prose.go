package waf

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// prose reports whether v is natural-language text: words, numbers and the
// punctuation of sentences, used the way sentences use it. It is the test
// that keeps free text (notes, reviews, messages) away from the CRS
// regular expressions, which cost about a millisecond per request and
// whose command and SQL word lists fire on ordinary English; prose still
// goes through libinjection and every built-in detector.
//
// Every character that attack syntax is built from is refused, or allowed
// only where a sentence puts it:
//
//   - letters (any script), digits, spaces, tabs, line breaks;
//   - . , ! ? : anywhere but doubled ".." (traversal; an ellipsis "..." is
//     text) or a ':' followed by '/' or '\' (URLs, drive letters: not
//     prose, they go to Coraza);
//   - ; followed by a space or the end;
//   - ' between letters (don't, O'Neill) or after an s (the dogs' bowls);
//   - " and ( ) in pairs, '(' after a space or the start and ')' before a
//     space, punctuation or the end (so no calls like sleep(5)); a word's
//     optional plural, owner(s), box(es); the ')' of a list marker, a) 2)
//     iv), at the start of a line or after a space;
//   - - between words or numbers or as a dash between spaces, never "--"
//     touching a word on one side only, never before a letter at a word's
//     start (-rf);
//   - / between two letters or two digits (and/or, 24/7) or two spaces;
//   - & between spaces; % after a digit; # before a digit; $ € £ before a
//     digit; + before a digit or between spaces; + ++ # ending a name (C++,
//     GTK+, C#); @ inside a word (e-mail addresses); * between spaces or
//     around a word (*this*);
//   - typographic quotes and dashes („ “ ” ‚ ‘ ’), no-break and thin spaces,
//     zero-width (non-)joiners (Persian and Indic spelling);
//   - the formatting tags of rich text (formatTag: <p>, </li>, <em>,
//     <br/>, <code class="language-go">, a link to a web page), read as a
//     space;
//   - the sentence punctuation of other scripts (scriptPunct: 。、「」《》,
//     fullwidth ，：（）, « », ¿ ¡, ।, ، ؟), and '(' after or ')' before a
//     letter of another script (逻辑(FPGAs)).
//
// Everything else (any other < and >, = ` | \ { } [ ] ^ ~, control characters, fullwidth
// forms) makes v not prose.
func prose(v string) bool {
	if v == "" || v[0] == '\n' || v[0] == '\r' || loneWordLine(v) {
		return false // a command on a line of its own: "%0aid"
	}
	depth := 0
	quotes := 0
	prev := rune(' ')
	for i := 0; i < len(v); {
		// A run of ASCII letters, digits, spaces, tabs and line feeds
		// needs no test of its neighbours (most of a sentence).
		if proseRun[v[i]] && skipProseRuns {
			j := i + 1
			for j < len(v) && proseRun[v[j]] {
				j++
			}
			prev, i = rune(v[j-1]), j
			continue
		}
		c, n := rune(v[i]), 1
		if c >= utf8.RuneSelf {
			c, n = utf8.DecodeRuneInString(v[i:])
		}
		next := rune(' ')
		if i+n < len(v) {
			next = rune(v[i+n])
			if next >= utf8.RuneSelf {
				next, _ = utf8.DecodeRuneInString(v[i+n:])
			} else if next == '<' && formatTag(v, i+n) > 0 {
				next = ' ' // a formatting tag ends a word as a space does
			}
		}
		last := i+n >= len(v)
		switch c {
		case '（', '）': // fullwidth parentheses, as CJK text writes them
			c -= 0xFF08 - '('
		}
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
		case c == '<':
			// Rich text: a formatting tag (<p>, </li>, <br/>, a link to a
			// web page; see formatTag) reads as the space it stands for.
			k := formatTag(v, i)
			if k == 0 {
				return false
			}
			prev, i = ' ', i+k
			continue
		case c == ' ' || c == '\n' || c == '\t' || c == '\r' && next == '\n':
		case c == '\u00a0' || c == '\u202f' || c == '\u2009': // no-break and thin spaces (French « x », 10 000)
		case c == '.':
			if next == '.' && !(i+2 < len(v) && v[i+2] == '.' && (i+3 >= len(v) || v[i+3] == ' ' || v[i+3] == '\n' || v[i+3] == ')' || v[i+3] == ',')) && prev != '.' {
				return false // ".." but not an ellipsis "..."
			}
			if next == '/' || next == '\\' {
				return false
			}
		case c == ',' || c == '!' || c == '?':
		case c == ':':
			if next == '/' || next == '\\' || next == ':' {
				return false
			}
		case c == ';':
			if !last && next != ' ' && next != '\n' {
				return false
			}
		case c == '\'' || c == '’' || c == '‘':
			if c == '\'' && !(letter(prev) && (letter(next) || prev == 's' || prev == 'S')) {
				return false
			}
		case c == '"' || c == '“' || c == '”' || c == '„' || c == '‟' || c == '‚':
			if c == '"' {
				quotes++
			}
		case c == '(':
			if letter(prev) {
				if k := pluralMark(v, i); k > 0 {
					// owner(s), box(es): a word's optional plural.
					prev, i = ')', i+k
					continue
				}
			}
			// After a letter of another script: 逻辑(FPGAs), no call.
			if !(space(prev) || prev == '"' || prev == '(' || prev >= 0x80 && (letter(prev) || scriptPunct(prev))) {
				return false
			}
			depth++
		case c == ')':
			if depth == 0 && listMarker(v, i) {
				// "a) Use a suitable shared library; b) ...", "1) first".
				break
			}
			depth--
			if depth < 0 || !(last || space(next) || punct(next) || next >= 0x80 && (letter(next) || scriptPunct(next))) {
				return false
			}
		case c == '-':
			switch {
			case next == '-':
				// "--" as a dash: between spaces, or after a word and
				// before a space ("wait-- what").
				if !(space(prev) || letter(prev)) || i+2 >= len(v) || !space(rune(v[i+2])) {
					return false
				}
				i += 2
				prev = '-'
				continue
			case space(prev) && letter(next):
				return false // an option: -rf, -la
			}
		case c == '/':
			if !(letter(prev) && letter(next) || digit(prev) && digit(next) || prev == ' ' && next == ' ' && !last) {
				return false
			}
		case c == '&':
			if !space(prev) || !space(next) {
				return false
			}
		case c == '%':
			if !digit(prev) {
				return false
			}
		case c == '#' || c == '$' || c == '€' || c == '£':
			if !digit(next) && !(c == '#' && languageName(v, i)) {
				return false
			}
		case c == '+':
			if !digit(next) && !(space(prev) && space(next)) && !languageName(v, i) {
				return false
			}
		case c == '@':
			if !letterOrDigit(prev) || !letterOrDigit(next) {
				return false
			}
		case c == '*':
			if !(space(prev) || space(next) || letter(prev) || letter(next)) || next == ')' || prev == '(' {
				return false
			}
		case c == '–' || c == '—' || c == '…':
		case c >= 0x80 && scriptPunct(c):
		case c >= 0x80 && unicode.IsLetter(c) && !(c >= 0xFF01 && c <= 0xFF5E):
		case c >= 0x80 && (unicode.IsMark(c) || unicode.IsNumber(c)):
		case c == '\u200c' || c == '\u200d': // zero-width (non-)joiner: Persian and Indic spelling
		default:
			return false
		}
		prev = c
		i += n
	}
	return depth == 0 && quotes%2 == 0
}

// formatTag is the length of the HTML formatting tag at v[i] ('<'): a
// start or end tag, or an empty element (<br/>, <br />), of an element
// of rich text that holds no script, style or form (a paragraph,
// emphasis, a list, a heading, a table cell, inline code, a link, an
// image), in any case, with no attribute but those formatAttr takes (a
// class; a link's href to a web page, an image's src); 0 for anything
// else. The rich-text editors of CMSs, shops and mail clients send such
// values; what such a <p> can do to a page is what the text in it can,
// and the text is still read by prose.
func formatTag(v string, i int) int {
	j := i + 1
	end := j < len(v) && v[j] == '/'
	if end {
		j++
	}
	var name [10]byte
	k := j
	for k < len(v) && k-j < len(name) && (asciiLetter(v[k]) || k > j && v[k] >= '1' && v[k] <= '6') {
		name[k-j] = v[k] | 0x20
		k++
	}
	if k == j || !formatElement(string(name[:k-j])) {
		return 0
	}
	elem := string(name[:k-j])
	for !end && k+1 < len(v) && v[k] == ' ' && v[k+1] != '/' {
		// An attribute that carries no script, style or event: see
		// formatAttr.
		a := k + 1
		k = a
		for k < len(v) && v[k] >= 'a' && v[k] <= 'z' {
			k++
		}
		if k+1 >= len(v) || v[k] != '=' || v[k+1] != '"' {
			return 0
		}
		q := strings.IndexByte(v[k+2:], '"')
		if q < 0 || !formatAttr(elem, v[a:k], v[k+2:k+2+q]) {
			return 0
		}
		k += 2 + q + 1
	}
	switch {
	case k < len(v) && v[k] == '/' && !end:
		k++ // <br/>
	case k+1 < len(v) && v[k] == ' ' && v[k+1] == '/' && !end:
		k += 2 // <br />
	}
	if k >= len(v) || v[k] != '>' {
		return 0
	}
	return k + 1 - i
}

// formatAttr reports whether name="value" is an attribute formatTag
// takes on elem: a class, id, lang or dir of name characters (what
// Markdown renderers and editors write: class="language-go"), a style of
// plain declarations (plainCSS: style="text-align: center;"), a width,
// height, border, colspan, rowspan or start of digits, an align or a
// table cell's scope, an alt or title that is prose; on a link a target,
// a rel and an href to a web page, a mail address or a relative path or
// fragment; on an image a src of a web page or a relative path. No other style, no event handler, no URL of another
// scheme, no "..", no quote, bracket, parenthesis, star, blank or ';' in a
// URL.
func formatAttr(elem, name, value string) bool {
	switch name {
	case "class", "id", "lang", "dir":
		return value != "" && nameChars(value, true)
	case "style":
		return value != "" && plainCSS(value)
	case "width", "height", "colspan", "rowspan", "start", "border":
		return value != "" && len(value) <= 4 && strings.Trim(value, "0123456789") == ""
	case "align":
		return value == "left" || value == "right" || value == "center" || value == "justify"
	case "scope":
		return value == "row" || value == "col" || value == "rowgroup" || value == "colgroup"
	case "alt", "title":
		return value == "" && name == "alt" || value != "" && !strings.ContainsAny(value, "<>") && prose(value)
	case "target":
		return elem == "a" && (value == "_blank" || value == "_self" || value == "_parent" || value == "_top")
	case "rel":
		return elem == "a" && value != "" && nameChars(value, true)
	case "href":
		return elem == "a" && safeLink(value)
	case "src":
		return elem == "img" && !strings.HasPrefix(value, "mailto:") && safeLink(value)
	}
	return false
}

// nameChars reports whether v is letters, digits, '-', '_' and, when
// blanks, single spaces between them.
func nameChars(v string, blanks bool) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(asciiLetter(c) || c >= '0' && c <= '9' || c == '-' || c == '_' || blanks && c == ' ' && i > 0 && i < len(v)-1 && v[i-1] != ' ') {
			return false
		}
	}
	return true
}

// safeLink reports whether u is an http, https or mailto URL, or a path or
// fragment relative to the page, made of the characters of URLs that no
// injection needs: letters, digits and - . _ ~ / ? # & = % + @ (and the
// ':' of the scheme, the ';' of "&amp;"), with no "..", no "//" but the
// scheme's.
func safeLink(u string) bool {
	rest := u
	switch {
	case strings.HasPrefix(u, "https://"):
		rest = u[8:]
	case strings.HasPrefix(u, "http://"):
		rest = u[7:]
	case strings.HasPrefix(u, "mailto:"):
		rest = u[7:]
	}
	if rest == "" || strings.Contains(rest, "..") || strings.Contains(rest, "//") {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if c == '&' && strings.HasPrefix(rest[i:], "&amp;") {
			i += 4 // a query's '&' as HTML writes it
			continue
		}
		if !(asciiLetter(c) || c >= '0' && c <= '9' || strings.IndexByte("-._~/?#&=%+@", c) >= 0) {
			return false
		}
	}
	return true
}

// formatElement reports the elements formatTag takes, by lower-case name.
func formatElement(name string) bool {
	switch name {
	case "p", "br", "hr", "wbr", "b", "i", "u", "s", "em", "strong", "small", "sub", "sup", "mark",
		"code", "pre", "tt", "kbd", "samp", "var", "blockquote", "q", "cite", "abbr", "acronym",
		"del", "ins", "ul", "ol", "li", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
		"span", "div", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption",
		"figure", "figcaption", "a", "img":
		return true
	}
	return false
}

// languageName reports whether the '+' or '#' at v[i] ends a name like C++,
// GTK+, Notepad++, C# or F#: one or two '+' after an ASCII letter, or one
// '#' after a capitalised word of up to four letters, before a space,
// punctuation or the end.
func languageName(v string, i int) bool {
	j := i
	for j > 0 && v[j-1] == v[i] {
		j--
	}
	k := i + 1
	for k < len(v) && v[k] == v[i] {
		k++
	}
	if j == 0 || !asciiLetter(v[j-1]) || k-j > 2 {
		return false
	}
	if v[i] == '#' {
		// C#, F#, GTK#: a capital and at most three letters more, and
		// no line break after it: "exec#\n(x)" is a PHP call with a
		// comment in it.
		w := j
		for w > 0 && asciiLetter(v[w-1]) {
			w--
		}
		if k-j != 1 || j-w > 4 || v[w] < 'A' || v[w] > 'Z' || k < len(v) && (v[k] == '\n' || v[k] == '\r' || v[k] == '\t') {
			return false
		}
	}
	return k == len(v) || space(rune(v[k])) || punct(rune(v[k])) || v[k] == '/'
}

// scriptPunct reports the sentence punctuation of other scripts and
// languages: CJK full stops, commas and brackets, the fullwidth forms of
// . , : ; ! ? (not of < > = ' " and the rest, which some decoders map to
// ASCII syntax), guillemets, Spanish ¿ ¡, the Devanagari danda, Arabic
// and Armenian punctuation, middle dots. Coraza's transformations turn
// CJK text into bytes its SQL rules read (best-fit and low-byte mapping of
// %u escapes): refusing it as prose blocked one Chinese or Japanese
// description in ten.
func scriptPunct(c rune) bool {
	switch c {
	case '、', '。', '「', '」', '『', '』', '【', '】', '《', '》', '〈', '〉', '・', '〜', '〃',
		'！', '，', '．', '：', '；', '？',
		'«', '»', '‹', '›', '¿', '¡', '·', '।', '॥', '،', '؛', '؟', '۔', '։', '።', '፣', '፤':
		return true
	}
	return false
}

// pluralMark is the length of the plural ending at v[i] after a word of
// three letters or more, "(s)" or "(es)", followed by a space, punctuation
// or the end; 0 for anything else (a call: exec(cmd), f(x)).
func pluralMark(v string, i int) int {
	k := 0
	switch {
	case strings.HasPrefix(v[i:], "(s)"):
		k = 3
	case strings.HasPrefix(v[i:], "(es)"):
		k = 4
	default:
		return 0
	}
	if i < 3 || !asciiLetter(v[i-1]) || !asciiLetter(v[i-2]) || !asciiLetter(v[i-3]) {
		return 0
	}
	if j := i + k; j < len(v) && !space(rune(v[j])) && !punct(rune(v[j])) {
		return 0
	}
	return k
}

// listMarker reports whether the ')' at v[i] closes a list item's marker:
// one to three letters or digits ("a", "2", "iv") at the start of v or of
// a line, or after a space, and followed by a space.
func listMarker(v string, i int) bool {
	if i+1 >= len(v) || v[i+1] != ' ' {
		return false
	}
	j := i
	for j > 0 && i-j < 3 && (asciiLetter(v[j-1]) || v[j-1] >= '0' && v[j-1] <= '9') {
		j--
	}
	return j < i && (j == 0 || v[j-1] == ' ' || v[j-1] == '\n')
}

func asciiLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// skipProseRuns is off only in the test that holds the runs' skip to the
// byte-by-byte reading (TestProseRuns).
var skipProseRuns = true

// proseRun are the bytes prose takes wherever they are.
var proseRun = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ' || c == '\n' || c == '\t'
	}
	return t
}()

// loneWordLine reports whether a line after the first is one lower-case
// word and nothing else: what a command injected after a line break looks
// like, and what sentences rarely do.
func loneWordLine(v string) bool {
	for i := strings.IndexByte(v, '\n'); i >= 0; i = nextLineBreak(v, i) {
		j := i + 1
		for j < len(v) && (v[j] == ' ' || v[j] == '\t') {
			j++
		}
		k := j
		for k < len(v) && (v[k] >= 'a' && v[k] <= 'z' || v[k] >= '0' && v[k] <= '9') {
			k++
		}
		if k > j && (k == len(v) || v[k] == '\n' || v[k] == '\r') {
			return true
		}
	}
	return false
}

// nextLineBreak is the index of the line break after v[i], or -1.
func nextLineBreak(v string, i int) int {
	if k := strings.IndexByte(v[i+1:], '\n'); k >= 0 {
		return i + 1 + k
	}
	return -1
}

func letter(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 && unicode.IsLetter(c)
}

func digit(c rune) bool { return c >= '0' && c <= '9' }

func letterOrDigit(c rune) bool {
	return letter(c) || digit(c) || c == '.' || c == '_' || c == '-' || c == '+'
}

func space(c rune) bool {
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\u00a0' || c == '\u202f' || c == '\u2009'
}

func punct(c rune) bool {
	switch c {
	case '.', ',', ';', ':', '!', '?', ')', '"', '\'', '’', '”', '-':
		return true
	}
	return false
}
