package waf

import (
	"strings"

	re2 "github.com/wasilibs/go-re2"
)

// Built-in detectors cover injection classes the CRS does not see at
// paranoia level 1 in API traffic (NoSQL operators, template injection,
// LDAP filters, CRLF into response headers, XML entities in any value).
// Each is gated by a cheap byte test so that ordinary values never reach a
// regular expression.

var (
	// A MongoDB-style query operator as a key or inside a value:
	// {"$ne": 1}, user[$ne]=x, {"$where": "..."}.
	nosqlOperators = re2.MustCompile(`(?i)(?:^|[\[{,"'\s])\$(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|expr|or|and|not|nor|elemmatch|function|accumulator|jsonschema|size|all|type|mod|text|lookup|set|unset|inc|rename|push|comment|natural|slice|meta|options|search|geowithin|near|bitsallset|bitsanyset)\b`)
	// nosqlSigilKey: an operator object written into a value with a
	// stand-in for the '$' sigil ({"&exists":false}, {'#ne': 1}): a filter
	// that strips or refuses '$' lets it through to a decoder (PHP's, a
	// query-string parser's) that maps the sigil back. The key is quoted
	// and followed by ':' inside an object; '@' is left out, since
	// JSON-LD keys start with it ({"@type": "Person"}).
	nosqlSigilKey = re2.MustCompile(`(?i)[{,]\s*["']?[&#%!~^*]\s*(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|expr|or|and|not|nor|elemmatch|size|all|type|mod)["']?\s*:`)
	// Template expressions that evaluate something: arithmetic, dunder or
	// object-graph walks, Java/EL, log4j lookups.
	sstiExpr = re2.MustCompile(`(?is)` +
		`\{\{.{0,200}?(?:\d\s*[*+/%-]\s*['"]?\d|__\w+__|\bconfig\b|\bself\b|\brequest\b|\bcycler\b|\blipsum\b|\bjoiner\b|\bnamespace\b|\|\s*attr\b|\.getclass|\bconstructor\b|\bruntime\b|\bexec\b|\bsystem\b|\bpopen\b|\bimport\b|\bproc\b|\bgetRuntime\b|\[['"]).{0,200}?\}\}` +
		`|\$\{.{0,200}?(?:\d\s*[*+/%-]\s*\d|\bT\s*\(|getclass|runtime|\bexec\b|jndi:|\benv:|\bsys:|java:|lower:|upper:|::-|\bdate:|\bctx:|\bmain:|\bbundle:|\bscript:|\bdns:|ldap:|rmi:).{0,200}?\}` +
		`|<%=?.{0,200}?(?:\d\s*[*+/%-]\s*\d|\bexec\b|runtime|system|eval|require|import|popen).{0,200}?%>` +
		`|[#*@]\{.{0,200}?(?:\d\s*[*+/%-]\s*\d|getclass|runtime|\bexec\b|T\s*\().{0,200}?\}` +
		`|\{%.{0,200}?(?:\bimport\b|\bexec\b|\bsystem\b|__\w+__|\bdebug\b|\bphp\b|\binclude\b|\bset\b.{0,50}?=|\bfor\b.{0,50}?\bin\b.{0,50}?__).{0,200}?%\}` +
		`|\{php\}|\{\$smarty|\bfreemarker\.template\.utility\.execute\b|#set\s*\(\s*\$\w+\s*=|\$class\.inspect|\{\{=|@\(\s*\d+\s*[*+]\s*\d+\s*\)` +
		// Single-brace engines (Smarty, Dust, Thymeleaf's inline forms)
		// probed with a product of two numbers, Dust's @math helper,
		// Django's add filter on numbers, Go's print of literals, and
		// Ruby's %x() command run from ERB or an interpolation: the
		// probes OWASP ZAP's template injection rules send.
		`|\{[#@]?\s*\d+\s*\*\s*\d+\s*\}|\{@math\b|\{\{[^{}]{0,100}?\d\s*\|\s*[a-z_]+\s*:\s*['"]?\d|\{\{-?\s*print(?:f|ln)?\s+['"\d]` +
		`|(?:<%=?|[#*@]\{)[^%}]{0,200}?%x\s*[({\[]`)
	// An LDAP filter being extended or closed early: *)(uid=*, )(|(, (&(.
	ldapFilter = re2.MustCompile(`(?i)\)\s*\(\s*[|&!]?\s*(?:\(\s*)*[a-z][\w.-]*\s*[~<>]?=|\(\s*[|&!]\s*\(\s*[a-z][\w.-]*\s*[~<>]?=|\*\s*\)\s*\(|\)\s*\(\s*[|&!]\s*\(|^\s*\*\s*\)|\)\s*\)\s*\(\s*[|&]`)
	// A line break followed by a response header an attacker wants to set,
	// or a second response. The name starts the line: a line that begins
	// with a space or a tab continues the previous field (obs-fold, RFC
	// 9112 5.2) and sets nothing, and it is how code indents
	// ("\n\thost := ..."). A "0a" or "0d" right after the break is what
	// IIS-style nesting leaves ("%%0a0a" decodes to "%\n0a"; a filter that
	// strips "%0a" leaves "%0a"): the break is the injection either way.
	crlfHeader = re2.MustCompile(`(?i)[\r\n](?:[\r\n]|0[ad])*(?:set-cookie|location|content-type|content-length|content-disposition|refresh|x-xss-protection|access-control-allow-[a-z-]+|transfer-encoding|cache-control|link|x-forwarded-[a-z-]+|host|http/\d)\s*[:/ ]`)
	// XPath: closing a predicate and adding a union, absolute node walks,
	// XPath functions after a boolean operator.
	xpathExpr = re2.MustCompile(`(?i)'\s*\)?\s*\]\s*\||\|\s*//|//\*|//[a-z][\w-]*\s*\[|//node\(\)|\b(?:or|and)\s+(?:true|false|count|contains|string-length|name|position|substring|doc|text|starts-with|not)\s*\(|\b(?:count|contains|string-length|substring|starts-with)\s*\(\s*(?:/|name\s*\()`)
	// XSLT injected into a stylesheet: the processor's vendor probe, XSLT
	// elements, and extension functions that run code (php:function,
	// Xalan's runtime:exec).
	xsltExpr = re2.MustCompile(`(?i)\bsystem-property\s*\(\s*['"]xsl:|<xsl:(?:value-of|variable|copy-of|for-each|template|stylesheet|transform|include|import|param)\b|\bphp:function\s*\(|\bruntime:(?:exec|getruntime)\s*\(`)
	// An XML document type or entity declaration anywhere in a value.
	xmlDecl = re2.MustCompile(`(?i)<!\s*(?:doctype|entity)\b`)
)

// constructorPrototype: a name that walks from an object to its
// prototype (constructor.prototype.x, constructor[prototype][x]), which a
// merge or a query-string parser follows to pollute every object.
var constructorPrototype = re2.MustCompile(`(?i)\bconstructor\s*(?:\.|\[\s*['"]?)\s*prototype\b`)

var cjkNewlines = strings.NewReplacer("\u560a", "\n", "\u560d", "\r")

// detectString runs the built-in detectors on one (decoded) value, whose
// gates are g and bytes cs.
func detectString(v string, header bool, g gate, cs charset) []string {
	var out []string
	if cs.any("$") && nosqlOperators.MatchString(v) || cs.any("{") && cs.any(":") && cs.any("&#%!~^*") && sigilAfterBrace(v) && nosqlSigilKey.MatchString(v) {
		out = append(out, RuleNoSQL)
	}
	if cs.any("{%@") && sstiExpr.MatchString(v) {
		out = append(out, RuleSSTI)
	}
	if cs.any("(") && cs.any(")") && cs.any("=*|&") && closeOpen(v) && ldapFilter.MatchString(v) {
		out = append(out, RuleLDAP)
	}
	if (cs.any("]|") || cs.any("/") && strings.Contains(v, "//") || g&gateXPath != 0) && xpathExpr.MatchString(v) {
		out = append(out, RuleXPath)
	}
	if cs.any("(<") && cs.any(":") && (g&gateXSLT != 0 || cs.nonASCII()) && xsltExpr.MatchString(v) {
		out = append(out, RuleXPath)
	}
	out = detectMore(v, g, &cs, out)
	if g&gateOOB != 0 {
		out = append(out, RuleScanner)
	}
	// U+560A and U+560D end in the bytes of LF and CR; some servers
	// truncate characters to bytes when writing headers.
	if cs.any("\xe5") && strings.ContainsAny(v, "\u560a\u560d") { // both start with byte 0xE5
		v = cjkNewlines.Replace(v)
		cs = charsetOf(v)
	}
	if cs.any("\r\n") {
		// In a header value any raw line break is an injection attempt
		// (net/http refuses them on the wire; they can only arrive decoded).
		if header || crlfHeader.MatchString(v) {
			out = append(out, RuleCRLF)
		}
	}
	if cs.any("<") && strings.Contains(v, "<!") && xmlDecl.MatchString(v) {
		out = append(out, RuleXXE)
	}
	return out
}

var xpathWords = []string{"count(", "contains(", "string-length(", "substring(", "starts-with(", "true(", "false(", "name(", "position(", "doc(", "text(", "not(",
	"count (", "contains (", "string-length (", "substring (", "starts-with (", "true (", "false (", "name (", "position (", "doc (", "text (", "not ("}

// closeOpen reports whether v has ')' followed (after blanks) by '(' or
// ')': the shape of every LDAP filter that ldapFilter looks for.
func closeOpen(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] != ')' {
			if v[i] == '*' {
				return true // "*)" and "*)(" forms
			}
			continue
		}
		j := i + 1
		for j < len(v) && (v[j] == ' ' || v[j] >= '\t' && v[j] <= '\r') {
			j++
		}
		if j < len(v) && (v[j] == '(' || v[j] == ')') {
			return true
		}
	}
	return false
}

// sigilAfterBrace reports a '$' stand-in of nosqlSigilKey right after
// '{' or ',' (blanks and one quote between): the gate of that expression.
func sigilAfterBrace(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] != '{' && v[i] != ',' {
			continue
		}
		j := i + 1
		for j < len(v) && (v[j] == ' ' || v[j] >= '\t' && v[j] <= '\r') {
			j++
		}
		if j < len(v) && (v[j] == '"' || v[j] == '\'') {
			j++
		}
		if j < len(v) && strings.IndexByte("&#%!~^*", v[j]) >= 0 {
			return true
		}
	}
	return false
}

// detectName runs the detectors that apply to parameter and key names:
// operator injection through names (user[$ne]=x, {"$gt": ""}).
func detectName(n string) []string {
	if strings.Contains(n, "__proto__") || strings.Contains(n, "prototype") && constructorPrototype.MatchString(n) {
		return []string{RulePrototype}
	}
	if strings.IndexByte(n, '$') < 0 {
		return nil
	}
	t := strings.TrimLeft(n, " ")
	if strings.HasPrefix(t, "$") || strings.Contains(n, "[$") {
		if nosqlOperators.MatchString(" " + t) {
			return []string{RuleNoSQL}
		}
	}
	return nil
}

// plainWord reports whether v has only letters, digits and '_' (or is
// empty): no injection syntax can live in it, so libinjection and the
// regular expressions are skipped.
func plainWord(v string) bool {
	for i := 0; i < len(v); i++ {
		if !asciiWordByte(v[i]) {
			return false
		}
	}
	return true
}

// asciiWordByte is an ASCII letter, digit or '_'.
func asciiWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// inert reports whether v has only characters that no CRS attack rule can
// be built from at the paranoia levels we run: ASCII letters, digits,
// space and _ . , - @ : + (and no ".."). Such values are still checked by
// libinjection and the built-in detectors; they only skip Coraza. This is
// what makes the common case (identifiers, names, numbers, ordinary
// words) cheap.
func inert(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == ' ' || c == '_' || c == ',' || c == '-' || c == '@' || c == ':' || c == '+':
		case c == '.':
			if i+1 < len(v) && v[i+1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	return true
}
