package waf

import (
	"strings"
	"unicode/utf8"
)

// GraphQL documents (issue 17's realistic API traffic). A GraphQL query
// is code in its own grammar, sent as a value ("query" of a JSON body or
// of the query string): "user(id: 4)" reads to the CRS as SQL's user()
// (942190), and a selection set as a brace block. What a client controls
// beyond the operation's shape are its literal values, so a value that
// is one executable GraphQL document (GraphQL spec §2, October 2021:
// operations and fragments, every token and production of the grammar)
// is inspected as its string literals, each a value of its own; a value
// that only looks like one ("{{7*7}}", "{alert(1)}", an unclosed brace)
// fails to parse and is inspected whole, as before, and so is a document
// anywhere but where GraphQL over HTTP sends one (see graphQLPlace).

// graphQLPlace reports whether loc is where GraphQL over HTTP puts a
// document: the "query" parameter of a GET, the "query" member of a JSON
// body (of each request of a batch, "/0/query"), or an
// application/graphql body. A GraphQL document elsewhere is inspected
// whole: "{\nid\n}" is a valid document and a brace group a shell runs.
func (in *inspection) graphQLPlace(loc string) bool {
	switch loc {
	case "query:query", "body:/query":
		return true
	case "body":
		return in.graphQLBody
	}
	if rest, ok := strings.CutPrefix(loc, "body:/"); ok && strings.HasSuffix(rest, "/query") {
		n := rest[:len(rest)-len("/query")]
		return n != "" && strings.Trim(n, "0123456789") == ""
	}
	return false
}

// graphQLStrings returns the string literals of v, decoded, when v is an
// executable GraphQL document; ok is false for anything else.
func graphQLStrings(v string) (lits []string, ok bool) {
	if !graphQLStart(v) {
		return nil, false
	}
	p := gqlParser{src: v}
	p.next()
	for p.tok != gqlEOF {
		if !p.definition() {
			return nil, false
		}
	}
	if p.err {
		return nil, false
	}
	if p.lits == nil {
		p.lits = []string{}
	}
	return p.lits, true
}

// graphQLStart is the cheap test in front of the parser: after blanks
// and comments, '{', a description or an operation or fragment keyword,
// and a '}' later.
func graphQLStart(v string) bool {
	i := 0
	for i < len(v) {
		switch v[i] {
		case ' ', '\t', '\n', '\r', ',':
			i++
			continue
		case '#':
			for i < len(v) && v[i] != '\n' && v[i] != '\r' {
				i++
			}
			continue
		}
		break
	}
	rest := v[i:]
	if rest == "" {
		return false
	}
	start := rest[0] == '{' || rest[0] == '"' // a selection set, a description
	for _, kw := range [...]string{"query", "mutation", "subscription", "fragment"} {
		if !start && strings.HasPrefix(rest, kw) && len(rest) > len(kw) && !gqlNameByte(rest[len(kw)]) {
			start = true
		}
	}
	return start && strings.IndexByte(rest, '}') > 0
}

type gqlTok byte

const (
	gqlEOF gqlTok = iota
	gqlPunct
	gqlName
	gqlNumber
	gqlString
	gqlBad
)

// maxGraphQLDepth bounds the parser's recursion (selection sets, lists,
// objects, types): a deeper document is refused here and inspected whole.
const maxGraphQLDepth = 64

type gqlParser struct {
	src   string
	pos   int
	tok   gqlTok
	text  string // the punctuator or name; the decoded string
	lits  []string
	depth int
	err   bool
}

func gqlNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// next reads the next token (GraphQL spec §2.1), skipping the ignored
// ones: white space, line terminators, commas, comments, a BOM.
func (p *gqlParser) next() {
	s := p.src
	for p.pos < len(s) {
		c := s[p.pos]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' {
			p.pos++
			continue
		}
		if c == '#' {
			for p.pos < len(s) && s[p.pos] != '\n' && s[p.pos] != '\r' {
				p.pos++
			}
			continue
		}
		if strings.HasPrefix(s[p.pos:], "\uFEFF") {
			p.pos += 3
			continue
		}
		break
	}
	if p.pos >= len(s) {
		p.tok = gqlEOF
		return
	}
	start, c := p.pos, s[p.pos]
	switch {
	case strings.IndexByte("!$&()[]{}:=@|", c) >= 0:
		p.pos++
		p.tok, p.text = gqlPunct, s[start:p.pos]
	case c == '.':
		if !strings.HasPrefix(s[p.pos:], "...") {
			p.tok = gqlBad
			return
		}
		p.pos += 3
		p.tok, p.text = gqlPunct, "..."
	case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		for p.pos < len(s) && gqlNameByte(s[p.pos]) {
			p.pos++
		}
		p.tok, p.text = gqlName, s[start:p.pos]
	case c == '-' || c >= '0' && c <= '9':
		p.number()
	case c == '"':
		p.string()
	default:
		p.tok = gqlBad
	}
}

// number reads an IntValue or FloatValue (§2.9.1, §2.9.2): no leading
// zeros, and no name character right after it ("1a" is no number).
func (p *gqlParser) number() {
	s, i := p.src, p.pos
	if s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	intStart := i
	if n := digits(); n == 0 || n > 1 && s[intStart] == '0' {
		p.tok = gqlBad
		return
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			p.tok = gqlBad
			return
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			p.tok = gqlBad
			return
		}
	}
	if i < len(s) && (gqlNameByte(s[i]) || s[i] == '.') {
		p.tok = gqlBad
		return
	}
	p.pos, p.tok = i, gqlNumber
}

// string reads a StringValue or a block string (§2.9.4) and keeps it
// decoded (escapes resolved; a block string as written between its
// quotes, its common indentation left in: the detectors read it as text).
func (p *gqlParser) string() {
	s := p.src
	if strings.HasPrefix(s[p.pos:], `"""`) {
		i := p.pos + 3
		var b strings.Builder
		for {
			j := strings.Index(s[i:], `"""`)
			if j < 0 {
				p.tok = gqlBad
				return
			}
			if j > 0 && s[i+j-1] == '\\' {
				b.WriteString(s[i : i+j-1])
				b.WriteString(`"""`)
				i += j + 3
				continue
			}
			b.WriteString(s[i : i+j])
			p.pos = i + j + 3
			break
		}
		p.tok, p.text = gqlString, b.String()
		return
	}
	i := p.pos + 1
	var b strings.Builder
	for {
		if i >= len(s) || s[i] == '\n' || s[i] == '\r' {
			p.tok = gqlBad
			return
		}
		c := s[i]
		if c == '"' {
			i++
			break
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			p.tok = gqlBad
			return
		}
		if c, ok := jsonEscape(s[i+1]); ok {
			b.WriteByte(c)
			i += 2
			continue
		}
		switch s[i+1] {
		case 'u':
			r, n := gqlUnicode(s[i+2:])
			if n == 0 {
				p.tok = gqlBad
				return
			}
			b.WriteRune(r)
			i += n
		default:
			p.tok = gqlBad
			return
		}
		i += 2
	}
	p.pos, p.tok, p.text = i, gqlString, b.String()
}

// gqlUnicode reads the XXXX or {X…} of a \u escape; n is how many bytes
// it took (0: malformed).
func gqlUnicode(s string) (rune, int) {
	hex := func(h string) (rune, bool) {
		var r rune
		for i := 0; i < len(h); i++ {
			if !ishex(h[i]) {
				return 0, false
			}
			r = r<<4 | rune(unhex(h[i]))
		}
		return r, h != ""
	}
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 2 || end > 7 {
			return 0, 0
		}
		r, ok := hex(s[1:end])
		if !ok || !utf8.ValidRune(r) {
			return 0, 0
		}
		return r, end + 1
	}
	if len(s) < 4 {
		return 0, 0
	}
	r, ok := hex(s[:4])
	if !ok {
		return 0, 0
	}
	return r, 4
}

// description reads the description an operation, a fragment or a
// variable definition may carry (GraphQL spec, September 2025): a string
// the client wrote, inspected like the literals.
func (p *gqlParser) description() {
	p.lits = append(p.lits, p.text)
	p.next()
}

func (p *gqlParser) is(punct string) bool { return p.tok == gqlPunct && p.text == punct }

func (p *gqlParser) expect(punct string) bool {
	if !p.is(punct) {
		p.err = true
		return false
	}
	p.next()
	return true
}

func (p *gqlParser) name() bool {
	if p.tok != gqlName {
		p.err = true
		return false
	}
	p.next()
	return true
}

func (p *gqlParser) enter() bool {
	p.depth++
	if p.depth > maxGraphQLDepth {
		p.err = true
	}
	return !p.err
}

// definition: an OperationDefinition or a FragmentDefinition (§2.3, §2.8).
func (p *gqlParser) definition() bool {
	if p.tok == gqlString {
		p.description()
	}
	if p.is("{") {
		return p.selectionSet()
	}
	if p.tok != gqlName {
		return false
	}
	switch p.text {
	case "query", "mutation", "subscription":
		p.next()
		if p.tok == gqlName {
			p.next()
		}
		if p.is("(") && !p.variableDefinitions() {
			return false
		}
		return p.directives() && p.selectionSet()
	case "fragment":
		p.next()
		if p.tok != gqlName || p.text == "on" {
			return false
		}
		p.next()
		if p.tok != gqlName || p.text != "on" {
			return false
		}
		p.next()
		return p.name() && p.directives() && p.selectionSet()
	}
	return false
}

func (p *gqlParser) selectionSet() bool {
	if !p.enter() || !p.expect("{") {
		return false
	}
	defer func() { p.depth-- }()
	if p.is("}") {
		return false // a selection set holds at least one selection
	}
	for !p.is("}") {
		if p.err || p.tok == gqlEOF || !p.selection() {
			return false
		}
	}
	p.next()
	return !p.err
}

// selection: a Field (with an alias, arguments, directives and a
// selection set, each optional), a FragmentSpread or an InlineFragment.
func (p *gqlParser) selection() bool {
	if p.is("...") {
		p.next()
		if p.tok == gqlName && p.text != "on" {
			p.next()
			return p.directives()
		}
		if p.tok == gqlName && p.text == "on" {
			p.next()
			if !p.name() {
				return false
			}
		}
		return p.directives() && p.selectionSet()
	}
	if !p.name() {
		return false
	}
	if p.is(":") {
		p.next()
		if !p.name() {
			return false
		}
	}
	if p.is("(") && !p.arguments() {
		return false
	}
	if !p.directives() {
		return false
	}
	if p.is("{") {
		return p.selectionSet()
	}
	return !p.err
}

func (p *gqlParser) arguments() bool {
	p.next() // (
	if p.is(")") {
		p.err = true
		return false
	}
	for !p.is(")") {
		if !p.name() || !p.expect(":") || !p.value(false) {
			return false
		}
	}
	p.next()
	return !p.err
}

func (p *gqlParser) directives() bool {
	for p.is("@") {
		p.next()
		if !p.name() {
			return false
		}
		if p.is("(") && !p.arguments() {
			return false
		}
	}
	return !p.err
}

// value (§2.9); constant is true where variables are not allowed (default
// values).
func (p *gqlParser) value(constant bool) bool {
	if !p.enter() {
		return false
	}
	defer func() { p.depth-- }()
	switch p.tok {
	case gqlString:
		p.lits = append(p.lits, p.text)
		p.next()
	case gqlNumber, gqlName:
		p.next() // numbers, true, false, null and enum values
	case gqlPunct:
		switch p.text {
		case "$":
			if constant {
				p.err = true
				return false
			}
			p.next()
			return p.name()
		case "[":
			p.next()
			for !p.is("]") {
				if p.err || p.tok == gqlEOF || !p.value(constant) {
					p.err = true
					return false
				}
			}
			p.next()
		case "{":
			p.next()
			for !p.is("}") {
				if p.err || p.tok == gqlEOF || !p.name() || !p.expect(":") || !p.value(constant) {
					p.err = true
					return false
				}
			}
			p.next()
		default:
			p.err = true
			return false
		}
	default:
		p.err = true
		return false
	}
	return !p.err
}

func (p *gqlParser) variableDefinitions() bool {
	p.next() // (
	if p.is(")") {
		p.err = true
		return false
	}
	for !p.is(")") {
		if p.tok == gqlString {
			p.description()
		}
		if !p.expect("$") || !p.name() || !p.expect(":") || !p.typeRef() {
			return false
		}
		if p.is("=") {
			p.next()
			if !p.value(true) {
				return false
			}
		}
		if !p.directives() {
			return false
		}
	}
	p.next()
	return !p.err
}

func (p *gqlParser) typeRef() bool {
	if !p.enter() {
		return false
	}
	defer func() { p.depth-- }()
	if p.is("[") {
		p.next()
		if !p.typeRef() || !p.expect("]") {
			return false
		}
	} else if !p.name() {
		return false
	}
	if p.is("!") {
		p.next()
	}
	return !p.err
}
