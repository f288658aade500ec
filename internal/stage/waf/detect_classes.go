package waf

import (
	"html"
	"strings"

	re2 "github.com/wasilibs/go-re2"
)

// Detectors for the classes the external corpora showed missing (issue
// 17): boolean SQL clauses and sqlmap's inference functions, traversal
// that hides its separators, system paths, template calls, sinks passed
// as values. Each is a shape of its class, not a list of payloads; each is
// gated by bytes or words a value must hold.

// RuleTraversal is path traversal or a system file named outright: dot-dot
// sequences whose separators are encoded, doubled or stripped, and
// absolute paths into the system's own directories.
const RuleTraversal = "waf.traversal"

// RuleProbe is what scanners send to see a parser break rather than to
// exploit it: printf conversions in a run (a format-string probe), a
// value of nothing but injection metacharacters, an attribute closed and
// markup opened at a value's start.
const RuleProbe = "waf.probe"

func init() {
	builtinRules[RuleTraversal] = true
	builtinTags[RuleTraversal] = []string{"attack-lfi"}
	builtinRules[RuleProbe] = true
	builtinTags[RuleProbe] = []string{"attack-injection-generic"}
}

var (
	// formatConv: a printf conversion that reads the stack (%x, %p,
	// %8.8x, %2$x) or writes through it (%n).
	formatConv = re2.MustCompile(`%(?:\d+\$)?[-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l)?[xXnp]`)
	// htmlBreakout: a value that starts by closing a quoted attribute and
	// its tag, then opens a tag: "\">xxx<P>yyy".
	htmlBreakout = re2.MustCompile(`^\s*['"]+\s*/?>[^<]{0,80}<[a-zA-Z]`)
)

// probe reports a RuleProbe shape in v.
func probe(v string, cs *charset) bool {
	if cs.any("%") && strings.Count(v, "%") >= 4 && formatRun(v) {
		return true
	}
	if cs.any(">") && cs.any(`"'`) && htmlBreakout.MatchString(v) {
		return true
	}
	return metaRun(v)
}

// formatRun reports four printf conversions (formatConv) in v. A '%'
// before two hex digits is a URL escape ("%20pounds", "%0Ap"), not a
// conversion with a width.
func formatRun(v string) bool {
	n := 0
	for _, m := range formatConv.FindAllStringIndex(v, -1) {
		if m[0]+2 < len(v) && ishex(v[m[0]+1]) && ishex(v[m[0]+2]) {
			continue
		}
		if n++; n == 4 {
			return true
		}
	}
	return false
}

// metaRun reports a value of 6 to 32 bytes of nothing but ASCII
// punctuation with a quote, an angle bracket and a parenthesis or ';'
// in it ("<>\"'%;)(&+"): a string made to break SQL, HTML and shell
// parsing at once. Text, passwords and emoticons hold letters or digits.
func metaRun(v string) bool {
	if len(v) < 6 || len(v) > 32 {
		return false
	}
	var quote, angle, other bool
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\'' || c == '"':
			quote = true
		case c == '<' || c == '>':
			angle = true
		case c == '(' || c == ')' || c == ';':
			other = true
		case c > ' ' && c < 0x7f && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'):
		default:
			return false
		}
	}
	return quote && angle && other
}

var (
	// sqlBoolStart: a value that starts (after a closing quote or
	// parenthesis) with a boolean keyword and a comparison of two
	// literals, then ends or comments out the rest: " OR 1=0-- ",
	// "' AND x=y#", " HAVING 1=1". What is appended to a WHERE clause.
	sqlBoolStart = re2.MustCompile(`(?i)^\s*['"\)]*\s*(?:or|and|xor|having|where|\|\||&&)\s+\(?\s*['"]?[\w.]+['"]?\s*(?:=|<>|!=|<=>|<|>|\s+like\s+)\s*['"]?[\w.]+['"]?\s*\)?\s*(?:#|--|/\*|;|$|(?:and|or)\b)`)
	// sqlNumCmp: a comparison of two numbers after a boolean keyword, a
	// parenthesis or a quote, anywhere: "WHERE 1=1 AND 1=0",
	// "ELT(4521=4521,1)", "AND ('5913=5913". sqlNumTautology decides.
	sqlNumCmp = re2.MustCompile(`(?i)(?:\b(?:or|and|xor|having|where|when|not|elt|make_set|if|iif)\s*|[(,'"])\s*\(?\s*['"]?(\d+)['"]?\s*(=|<>|!=)\s*['"]?(\d+)\b`)
	// sqlFuncs: functions that only an injection calls from a request
	// value: error-based extraction (extractvalue, updatexml, gtid_subset,
	// json_keys), inference (elt, make_set, generate_series with a
	// CASE), time delays with a number, catalog tables of DB2, Firebird.
	sqlFuncs = re2.MustCompile(`(?i)\b(?:elt|make_set|extractvalue|updatexml|gtid_subset|gtid_subtract|json_keys|name_const|exp\s*\(\s*~|row_to_json|randomblob|load_extension)\s*\(|\bgenerate_series\s*\([^)]*\bcase\b|\b(?:sleep|pg_sleep|benchmark)\(\s*\d|\bsysibm\.\w+|\brdb\$\w+|\bconvert\s*\(\s*int\s*,|\bchar\s*\(\s*\d+\s*\)\s*(?:\+|\|\|)\s*char\s*\(`)
	// sqlStatement: whole SQL statements that create, grant or delete.
	sqlStatement = re2.MustCompile(`(?i)\bcreate\s+(?:temporary\s+)?table\s+[\w.$]+\s*\(\s*\w+\s+\w+|\bgrant\s+\w+(?:\s*,\s*\w+)*\s+(?:on\s+[\w.*]+\s+)?to\s+[\w'@.%]+\s*;|\bdrop\s+(?:table|database|schema|user)\s+(?:if\s+exists\s+)?[\w.$]+\s*(?:;|--|#|$)|\binsert\s+into\s+[\w.$]+\s*(?:\([\w\s,]+\)\s*)?values\s*\(`)
	// sqlQuoteKeyword: a quote closed and a boolean joined to a subquery
	// or EXISTS ("'or select *", "' or (EXISTS)"), T-SQL statements on
	// variables ("PRINT @@version", "DECLARE @x INT", "SET @x ="), and extended or system
	// procedures run by name ("exec xp_cmdshell", "exec sp_who").
	sqlQuoteKeyword = re2.MustCompile(`(?i)['"]\s*(?:or|and|\|\|)\s*\(?\s*(?:select\b|exists\b|not\s+exists\b)|\b(?:print|declare|set|select)\s+@@[a-z_]\w*|\bdeclare\s+@\w+\s+(?:as\s+)?(?:n?varchar|n?char|int|bigint|table|sysname|cursor)\b|\bset\s+@\w+\s*=|\bexec(?:ute)?\s+(?:master\.\.)?(?:xp|sp)(?:_\w+)?\b`)
	// sqlQuoteHash: a quote closed and the rest of the query commented
	// out with MySQL's '#': "admin' #".
	sqlQuoteHash = re2.MustCompile(`\w['"]\s*#\s*$`)

	// dotdot: a parent-directory step whose separator is a slash, a
	// backslash, or what is left of an encoded one after a filter strips
	// the '%' or decodes once (..2f, ..%252f, ..0x2f, ..%uEFC8), with two
	// or more dots (....// collapses to ../ when a filter removes ../).
	//
	// A stray '%' before the separator is what "%25%5c" leaves after one
	// decoding ("%\\"), which decoders that drop an invalid escape read as
	// "\\"; a private-use character (U+E000-U+F8FF: %uF025, %uEFC8) is
	// what IIS's best-fit mapping turns into a separator, and no text puts
	// one after "..".
	dotdot = re2.MustCompile(`(?i)(?:\.{2,}|%2e%2e|0x2e0x2e|%252e%252e)(?:%?[\\/]|2f|5c|0x2f|0x5c|%(?:25)*(?:2f|5c|u[0-9a-f]{4}|c0%(?:25)*af|c1%(?:25)*9c)|[\x{E000}-\x{F8FF}])`)
	// systemPath: a value that is an absolute path into the system's own
	// directories, or a Windows system location, with nothing else.
	systemPath = re2.MustCompile(`(?i)^\s*(?:file:/*)?/+(?:etc|proc|boot|root|sys|var/(?:lock|spool|mail|run|backups|db))/[\w.+-]+[^\s]*$|\b[a-z]:[\\/]+(?:windows|winnt|boot\.ini|inetpub|system32|system volume information|documents and settings)\b|[\\/](?:windows|winnt)[\\/]+(?:repair|system32|win\.ini|system\.ini|debug|panther)\b`)

	// javaWebInf: a Java web application's deployment descriptor, the
	// file a traversal or an include is after (WEB-INF/web.xml).
	javaWebInf = re2.MustCompile(`(?i)(?:^|[/\\.])web-inf[/\\]+(?:web|classes|lib|jboss-web|weblogic)\b`)
	// localFileURL: a value that is a file: URL of the local file system
	// ("file:///", "file:///c:/", "file:\\\\\\c:\\"), which a URL fetcher
	// or an include reads from disk.
	localFileURL = re2.MustCompile(`(?i)^\s*file:(?:/{3}|\\{3}|/{2}localhost/)`)
	// sqlCommentTail: a quote or a sort direction closed by a SQL line
	// comment that ends the value ("x'  -- ", " DESC -- "): what cuts the
	// rest of the statement off after the injected part.
	sqlCommentTail = re2.MustCompile(`(?i)(?:['"]|\b(?:asc|desc))\s*--\s*$`)
	// javaStaticSQL: a Java static method called from SQL by its quoted
	// class name, HSQLDB's and H2's way to sleep or run code
	// ("java.lang.Thread.sleep"(5000)).
	javaStaticSQL = re2.MustCompile(`"java\.[a-z]+(?:\.[A-Za-z_$][\w$]*)+"\s*\(`)
	// cloudMetadata: a URL to a cloud instance metadata service, by the
	// service's paths (AWS, Alibaba: /latest/meta-data; Google:
	// /computeMetadata/v1; Oracle: /opc/v1/instance; Azure, DigitalOcean:
	// /metadata/instance, /metadata/v1; OpenStack) or its host: the SSRF
	// target that yields the instance's credentials.
	cloudMetadata = re2.MustCompile(`(?i)//[^/\s?#]+/(?:latest/(?:meta-data|user-data|api/token|dynamic)|computemetadata/v1|opc/v[12]/|metadata/(?:instance|v1|identity)|openstack/latest/)|//(?:169\.254\.169\.254|metadata\.google\.internal|metadata\.oraclecloud\.com|100\.100\.100\.200|\[?fd00:ec2::254\]?)(?:[:/]|$)`)

	// sstiCall: a template expression that calls or walks to something:
	// {{dump(app)}}, {{'a'.toUpperCase()}}, {{''.class.mro()}}, and a
	// template loop over a server object.
	sstiCall = re2.MustCompile(`(?is)\{\{[^{}]{0,200}?[\w'"\]]\s*\([^{}]{0,200}?\)[^{}]{0,100}?\}\}|\{\{[^{}]{0,200}?\.(?:class|mro|subclasses|base|bases|globals|builtins|init|getclass|forname)\b[^{}]{0,200}?\}\}|\{%-?\s*for\s+\w+(?:\s*,\s*\w+)?\s+in\s+(?:\w+(?:\.\w+)*(?:\(\))?|\[[^\]]*\]|\(\s*\d[^)]*\))\s*-?%\}`)
	// jsRef: a sink passed or assigned as a value, to be called later
	// under another name: a=alert,a(1); [1].find(alert); onerror=eval.
	jsRef = re2.MustCompile(`(?i)(?:[(,=\[]|\bthrow\s)\s*(?:alert|prompt|confirm|eval)\s*(?:[),;\]]|$)|\bnavigator\s*\.\s*(?:sendbeacon|vibrate|clipboard|credentials|serviceworker|geolocation)\b`)
	// entityRef: a reference to an entity that is not one of HTML's
	// (&systemEntity;, %foo;): an XML entity an attacker declared, or a
	// parameter entity, expanded by a parser that reads the document.
	entityRef = re2.MustCompile(`(?:^|[\s>"'(])[&%]([A-Za-z_][\w.-]{0,40});`)
	// ldapWildcard: the wildcard filters LDAP probes send: "(*)" next to
	// more filter syntax, "*()|&".
	ldapWildcard = re2.MustCompile(`\(\s*\*\s*\)\s*[*|&()]|\*\s*\(\s*\)\s*[|&]`)
	// winFor and winIf: cmd.exe's FOR loop and IF test (CRS 932140's
	// class without its "if … ==" branch, which every code snippet in C,
	// Go or JavaScript matches). IF counts with cmd's own test words
	// (EXIST, DEFINED, ERRORLEVEL, CMDEXTVERSION), its comparison words
	// (EQU, NEQ, LSS, LEQ, GTR, GEQ), or "==" written without spaces between
	// operands that are not a parenthesised condition (item1==item2,
	// %VAR%==x, [%1]==[]) or between quoted or bracketed operands
	// ("%~1" == "%~2", [AA] == [AA]), as batch files write it and code
	// formatters do not.
	winFor = re2.MustCompile(`(?i)\bfor(?:\s+/[dflr](?:\s+"[^"]*"|\s+[a-z]:\\\S*)?)*\s+%%?\S+\s+in\s*\(.*\)\s*do\b`)
	winIf  = re2.MustCompile(`(?i)\bif(?:\s*/i)?(?:\s+not)?\s+(?:(?:"[^"]*"|\[[^\]]*\]|\{[^}]*\}|\(%[^)]*\)|%\S+)\s*==\s*(?:"[^"]*"|\[[^\]]*\]|\{[^}]*\}|\([^)]*\))|(?:exist|defined|errorlevel|cmdextversion)\s+\S|\(?\s*\S+\s+(?:equ|neq|lss|leq|gtr|geq)\s+\S|[^\s(]\S*===?[^\s:;{)]+\s+\w)`)
	// esiTag: an Edge Side Includes tag, never in text.
	esiTag = re2.MustCompile(`(?i)<\s*/?\s*esi:[a-z]+`)
	// ssjsReturn: a statement that ends a value's expression and returns
	// from the server-side function it was put in: 0;return true.
	ssjsReturn = re2.MustCompile(`(?i)[\w'"]\s*;\s*return\s+(?:true|false|1|0|this\b|db\b)`)
)

// Word gates for the detectors above (matched by the Aho-Corasick pass
// of gates.go, case-insensitively).
var (
	sqlFuncWords = []string{"elt(", "elt (", "make_set", "extractvalue", "updatexml", "gtid_", "json_keys", "name_const", "exp(", "row_to_json",
		"randomblob", "load_extension", "generate_series", "sleep(", "benchmark(", "sysibm", "rdb$", "convert(", "convert (", "char(", "char (",
		"create table", "create temporary", "grant ",
		"or select", "or(select", "or (select", "or exists", "or (exists", "or not exists", "and select", "and (select", "and exists", "and (exists", "||select",
		"print @", "declare @", "set @", "select @@", "exec xp", "exec sp", "execute xp", "execute sp", "exec master", "execute master", "drop table", "drop database", "drop schema", "drop user", "insert into"}
	sstiWords = []string{"{{", "{%"}
	// winForIfWords: "for" before a %variable, "if" before a space.
	winForIfWords = []string{"for ", "for\t", "if ", "if\t"}
	// winIfWords: every branch of winIf needs "==" or one of these words
	// ("if the box is damaged" has none).
	winIfWords = []string{"==", "exist", "defined", "errorlevel", "cmdextversion", "equ", "neq", "lss", "leq", "gtr", "geq"}
	// xsltWords: every branch of xsltExpr holds one of these (gateXSLT).
	xsltWords = []string{"system-property", "<xsl:", "php:function", "runtime:"}
)

// detectClasses runs the detectors of this file on v.
func detectClasses(v string, g gate, cs *charset, out []string) []string {
	if cs.any("=<>!") {
		// sqlNumCmp needs digits and '=' or '<' ("!=" and "<>" have them).
		if sqlBoolStart.MatchString(v) || cs.any("=<") && cs.any("0123456789") && sqlNumTautology(v) {
			out = append(out, RuleSQLi2)
		}
	}
	if g&gateSQLFunc != 0 && (sqlFuncs.MatchString(v) || sqlStatement.MatchString(v) || sqlQuoteKeyword.MatchString(v)) || cs.any("#") && cs.any(`'"`) && sqlQuoteHash.MatchString(v) {
		out = append(out, RuleSQLi2)
	}
	if cs.any(".%0") && traversal(v) || cs.any(`/\`) && systemPathMaybe(v) && systemPath.MatchString(v) ||
		cs.any(`/\`) && (cs.any("wW") && javaWebInf.MatchString(v) || cs.any(":") && localFileURL.MatchString(v)) {
		out = append(out, RuleTraversal)
	}
	if cs.any("-") && strings.HasSuffix(strings.TrimRight(v, " \t"), "--") && sqlCommentTail.MatchString(v) {
		out = append(out, RuleSQLi2)
	}
	if cs.any(`"`) && strings.Contains(v, "java.") && javaStaticSQL.MatchString(v) {
		out = append(out, RuleSQLi2)
	}
	if cs.any("/") && strings.Contains(v, "//") && cloudMetadata.MatchString(v) {
		out = append(out, RuleSSRF)
	}
	if g&gateSSTI != 0 && sstiCall.MatchString(v) {
		out = append(out, RuleSSTI)
	}
	if (cs.any("(,=[") && g&gateJSCall != 0 || g&gateJSGlobal != 0) && jsRef.MatchString(v) {
		out = append(out, RuleJS)
	}
	if g&gateWinForIf != 0 && (cs.any("%") && winFor.MatchString(v) || (g&gateWinIfWord != 0 || cs.nonASCII()) && winIf.MatchString(v)) {
		out = append(out, RuleCmd)
	}
	if cs.any("<") && cs.any(":") && esiTag.MatchString(v) {
		out = append(out, RuleSSTI)
	}
	if cs.any(";") && cs.any("&%") && unknownEntity(v) {
		out = append(out, RuleXXE)
	}
	if cs.any("*") && (cs.any("(") && ldapWildcard.MatchString(v) || cs.any("|&") && ldapMeta(v)) {
		out = append(out, RuleLDAP)
	}
	if cs.any("%>'\"") && probe(v, cs) {
		out = append(out, RuleProbe)
	}
	if cs.any(";") && containsFold(v, "return") && ssjsReturn.MatchString(v) && !prose(v) {
		out = append(out, RuleSSJS)
	}
	return out
}

// sqlNumTautology reports a comparison of two numbers after a boolean
// keyword, a parenthesis or a quote that is always true or always false
// (1=1, 4521=4521, 1=0, 1<>1): what blind injection probes with. N=N is
// enough; an always-false one (1=0) counts only with SQL punctuation in
// the value (a quote, a parenthesis, a comment), since "and 2=3" can be
// arithmetic in a sentence.
func sqlNumTautology(v string) bool {
	punct := strings.ContainsAny(v, `'"()#`) || strings.Contains(v, "--")
	for _, m := range sqlNumCmp.FindAllStringSubmatch(v, 8) {
		same := m[1] == m[3]
		if m[2] == "=" && same || punct && (m[2] == "=") != same {
			return true
		}
	}
	return false
}

// traversal reports two or more parent-directory steps (dotdot) in v, or
// one that leads to a system directory.
func traversal(v string) bool {
	if !strings.Contains(v, "..") && !strings.Contains(v, "%2e") && !strings.Contains(v, "%2E") && !strings.Contains(v, "0x2e") {
		return false
	}
	m := dotdot.FindAllString(v, 2)
	if len(m) >= 2 {
		return true
	}
	// One step is enough when its dots or separator are encoded in a way
	// only a decoder bug reads as a separator (..0x2f, ..%uF025 and its
	// decoded private-use character, 0x2e0x2e\): no text writes those.
	if len(m) == 1 {
		l := strings.ToLower(m[0])
		return strings.Contains(l, "0x") || strings.Contains(l, "%u") || strings.Contains(l, "%c0") || strings.Contains(l, "%c1") || strings.Contains(l, "%25") || !ascii(l)
	}
	return false
}

// ldapMeta reports a value made only of LDAP filter metacharacters, a
// wildcard and an OR or AND among them ("*|", "*)(|", "&*"): what a probe
// puts into a filter to see it break or match everything; no name,
// search term or text is only these.
func ldapMeta(v string) bool {
	v = strings.TrimSpace(v)
	if len(v) < 2 || len(v) > 16 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if strings.IndexByte("*()|&!", v[i]) < 0 {
			return false
		}
	}
	return strings.ContainsAny(v, "|&")
}

// unknownEntity reports an entity reference (entityRef) whose name HTML
// does not define: html.UnescapeString leaves it as it is.
func unknownEntity(v string) bool {
	for _, m := range entityRef.FindAllStringSubmatch(v, 4) {
		ref := m[0][len(m[0])-len(m[1])-2:]
		if ref[0] == '%' || html.UnescapeString(ref) == ref {
			return true
		}
	}
	return false
}

// systemPathMaybe reports whether systemPath can match v: each of its
// alternatives needs a value that starts with '/' or "file:" (after
// blanks), a drive letter's ":/" or ":\\", or "win" in any case (the
// letters of "win" have no non-ASCII case folds in RE2).
func systemPathMaybe(v string) bool {
	t := strings.TrimLeft(v, " \t\n\f\r")
	return strings.HasPrefix(t, "/") || len(t) >= 5 && strings.EqualFold(t[:5], "file:") ||
		strings.Contains(v, ":/") || strings.Contains(v, `:\`) || containsFold(v, "win")
}
