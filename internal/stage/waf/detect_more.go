package waf

import (
	"strings"

	re2 "github.com/wasilibs/go-re2"
)

// More built-in rule ids (issue 17's classes).
const (
	// RuleJS is JavaScript that runs without any HTML around it: a call of
	// a sink or a global through the forms that hide it from signatures.
	RuleJS = "waf.js"
	// RuleSSJS is server-side JavaScript aimed at a NoSQL store.
	RuleSSJS = "waf.ssjs"
	// RuleMail is an SMTP or IMAP command injected after a line break.
	RuleMail = "waf.mail"
	// RuleDeserialize is a serialised object or YAML tag that executes
	// code when loaded.
	RuleDeserialize = "waf.deserialize"
	// RuleUNC is a Windows UNC path (\\host\share), which makes a server
	// connect out (and leak NTLM credentials) or read a remote file.
	RuleUNC = "waf.unc"
	// RuleScanner is a security scanner's fingerprint in a header.
	RuleScanner = "waf.scanner"
	// RuleSQLi2 is an SQL injection shape libinjection lets through
	// (sqlTautology, sqlExtra).
	RuleSQLi2 = "waf.sqli"
	// RuleJunk is a value of a kilobyte or more that is mostly
	// punctuation: refused on its shape (see junk).
	RuleJunk = "waf.junk"
	// RuleNode is server-side JavaScript aimed at Node.js's runtime: the
	// process object's environment and bindings, require's cache and
	// resolver, child_process, serialised functions.
	RuleNode = "waf.node"
	// RuleUpload is an uploaded file whose name makes a server run it (a
	// PHP, JSP or ASP.NET page) or that overwrites a PHP session file.
	RuleUpload = "waf.upload"
	// RulePrototype is a parameter or key name that reaches an object's
	// prototype (__proto__, constructor.prototype): prototype pollution.
	RulePrototype = "waf.prototype"
	// RuleSSRF: a URL to a cloud instance metadata service (see
	// cloudMetadata).
	RuleSSRF = "waf.ssrf"
)

func init() {
	for _, r := range []string{RuleJS, RuleSSJS, RuleMail, RuleDeserialize, RuleUNC, RuleScanner, RuleJunk, RuleSQLi2, RuleNode, RuleUpload, RulePrototype, RuleSSRF} {
		builtinRules[r] = true
	}
}

// builtinTags are the CRS-style tags of each built-in rule, so that a tag
// exclusion ("attack-xss") removes the built-in detections of its class
// too.
var builtinTags = map[string][]string{
	RuleJS: {"attack-xss"}, RuleSSJS: {"attack-nosql", "attack-injection-generic"}, RuleNoSQL: {"attack-nosql"},
	RuleCmd: {"attack-rce"}, RuleMail: {"attack-injection-generic"}, RuleDeserialize: {"attack-rce", "attack-deserialization"},
	RuleUNC: {"attack-lfi", "attack-rfi"}, RuleScanner: {"attack-reputation-scanner"}, RuleSSTI: {"attack-injection-generic"},
	RuleLDAP: {"attack-ldap", "attack-injection-generic"}, RuleXPath: {"attack-injection-generic"}, RuleCRLF: {"attack-protocol"},
	RuleXXE: {"attack-xxe"}, RuleSQLi: {"attack-sqli"}, RuleXSS: {"attack-xss"}, RuleSQLi2: {"attack-sqli"},
	RuleNode: {"attack-injection-generic", "attack-rce"}, RuleUpload: {"attack-rce", "attack-injection-php"},
	RulePrototype: {"attack-injection-generic"}, RuleSSRF: {"attack-ssrf"},
}

var (
	// jsSinks are globals and functions whose call runs or leaks
	// something. A call is the name, then optional ?. / .call / .apply /
	// .bind / a closing parenthesis (parenthesised reference), then ( or a
	// template string.
	jsCall = re2.MustCompile(`(?i)(?:^|[^\w$.])(?:alert|prompt|confirm|eval|settimeout|setinterval|execscript|importscripts|atob|fromcharcode|constructor|(?-i:Function))\s*(?:\)\s*)?(?:\?\.\s*)?(?:\.\s*(?:call|apply|bind)\s*)?(?:\(|` + "`" + `)`)
	// jsGlobals: property walks to what XSS steals or abuses.
	jsGlobal = re2.MustCompile(`(?i)\b(?:document\s*\.\s*(?:cookie|domain|write|location|body\.innerhtml)|window\s*\.\s*(?:location|name|open)|location\s*\.\s*(?:href|hash|search|replace|assign)|localstorage|sessionstorage|\.innerhtml\s*=|\.outerhtml\s*=|\.src\s*=|constructor\s*\.\s*constructor|__proto__|\bxmlhttprequest\b)|(?:\b(?:window|self|top|parent|frames|globalthis|this|document)\s*\[\s*['"` + "`" + `]|\[\s*['"]\w+['"]\s*\+)`)
	// jsObfuscation: JSFuck-style and string-splitting tricks.
	jsObfuscation = re2.MustCompile(`\[\]\s*\[\s*['"(]|\(\s*!\s*\[\s*\]\s*\+|\+\s*\[\s*\]\s*\)|\]\s*\(\s*\)\s*\(|\b(?:top|self|window|parent|this)\s*\[\s*\w*\s*\(`)
	// ssjs: server-side JavaScript into MongoDB and friends.
	ssjs = re2.MustCompile(`(?i)\bdb\s*\.\s*(?:\w+\s*\.\s*)?(?:insert|insertone|insertmany|find|findone|update|updateone|updatemany|remove|deleteone|deletemany|drop|dropdatabase|getcollection|getcollectionnames|getsiblingdb|eval|runcommand|createcollection|createuser|adduser|aggregate|mapreduce|copydatabase|shutdownserver|stats|version)\s*\(|\bthis\s*\.\s*\w+\s*(?:==|!=|\.\s*(?:match|indexof|length|startswith|tostring)\b)|\b(?:while|for)\s*\(\s*(?:true|1|;\s*;)\s*\)|\bsleep\s*\(\s*\d{3,}|\bemit\s*\(|\bobjectid\s*\(|\bisodate\s*\(|\btojson\s*\(|\bprintjson\s*\(|['"]\s*;\s*(?:return|var|let|const|while|for|sleep|throw)\b|\breturn\s+this\.`)
	// nodeJS: what CRS 934100 looks for, less the calls every Node.js
	// snippet makes (console.log(…), function() {, module.exports = …;
	// see APITunedRules): the process object's environment, bindings and
	// module walks, written as a property (no blank after the dot, which
	// a sentence ending in "process." has) or as a subscript; require's
	// cache, resolver and subscripts, and require of the modules that run
	// or reach things; child_process; the console reached by a subscript
	// or through call/apply; the constructor walk; serialised functions.
	nodeJS = re2.MustCompile(`(?i)\bprocess\s*(?:\.(?:env|mainmodule|binding|_linkedbinding|dlopen|kill|exit|reallyexit|abort|getbuiltinmodule|execpath|execargv|setuid|setgid|seteuid|setegid|chdir|umask|getuid|geteuid|cwd|memoryusage|report|constructor|global|process|require|stdout|stdin)\b|\[\s*(?:['"` + "`" + `]|[a-z_$]))` +
		`|\brequire\s*(?:\.\s*(?:main|cache|resolve|extensions)\b|\[|\(\s*['"` + "`" + `](?:node:)?(?:child_process|fs|fs/promises|net|vm|os|dgram|dns|worker_threads|cluster|process|module|v8|inspector|repl)['"` + "`" + `])` +
		`|\bchild_process\b|\bmodule\.exports=|\b__js_function\b|\bconsole\s*\[\s*['"` + "`" + `]|\bconsole\s*\.\s*\w+\s*\.\s*(?:call|apply)\s*\(|\bthis\.constructor\b|\bglobal(?:this)?\s*\.\s*process\b`)
	// uploadName: CRS 933110's and 944140's script extensions (and
	// ASP.NET's), after lower-casing and removing blanks ("photo. php",
	// "shell.jsp  "); 933220's PHP session file.
	uploadName = re2.MustCompile(`\.(?:ph(?:p\d*|tml|ar|ps|t|pt)|jspx?|aspx?|ashx|asmx|ascx|cshtml)\.*$|(?:^|[/\\])sess_[,\-0-9a-z]{20,256}$`)
	// mailCommand: a line break, an optional IMAP tag, then an SMTP or
	// IMAP command with its syntax.
	mailCommand = re2.MustCompile(`(?m)[\r\n]\s*(?:(?i:mail\s+from|rcpt\s+to|send\s+from|saml\s+from|soml\s+from)\s*:|(?:HELO|EHLO)\s+\S+|(?:DATA|QUIT|RSET|NOOP|TURN|STARTTLS|HELP)\s*$|(?:VRFY|EXPN)\s+\S|(?:[A-Za-z]{0,4}\d{1,6}|[*A-Za-z]\d?)\s+(?:CAPABILITY|NOOP|LOGOUT|STARTTLS|AUTHENTICATE|LOGIN|SELECT|EXAMINE|CREATE|DELETE|RENAME|SUBSCRIBE|UNSUBSCRIBE|LIST|LSUB|STATUS|APPEND|CHECK|CLOSE|EXPUNGE|SEARCH|FETCH|STORE|COPY|UID|IDLE|NAMESPACE|GETACL|SETACL)\b|(?i:bcc)\s*:\s*\S+@)`)
	// deserialize: YAML tags that construct objects, serialised PHP,
	// Java, .NET and Node objects, pickle opcodes.
	deserialize = re2.MustCompile(`(?i)!!(?:python/|ruby/|java\.|javax\.|js/|com\.|org\.|net\.|sun\.)|!ruby/(?:object|hash|struct|marshal)|tag:yaml\.org,2002:(?:python|ruby|java)|\bo:\d+:"[\w\\]+":\d+:\{|\ba:\d+:\{(?:i|s):\d+[:;]|\brO0AB|\baced0005|_\$\$ND_FUNC\$\$_|"\$type"\s*:\s*"[\w.]+,|"@type"\s*:\s*"(?:com|org|java|javax|sun)\.|\bobjectdataprovider\b|\bjava\.lang\.(?:runtime|processbuilder)\b|\bc__builtin__\b|\bcposix\s+system|\bcos\s*\n\s*system\b|__reduce__|\bsubprocess\.(?:popen|call|check_output)\b|\bos\.system\b`)
	// ldapExtensible: an LDAP extensible-match filter item (attr:dn:=x,
	// attr:1.2.840.113556.1.4.803:=x, :dn:2.4.6:=x), which needs no
	// parentheses to change a filter.
	ldapExtensible = re2.MustCompile(`(?i)(?:^|[(&|!*\s])[a-z][\w.-]*(?::dn)?:(?:\d+(?:\.\d+)+|[a-z]\w*match)?:=|(?:^|[(&|!*\s])(?::dn)?:(?:\d+(?:\.\d+)+|[a-z]\w*match):=|[a-z][\w-]*:dn:=`)
	// sqlExtra: SQL injection shapes libinjection's tokenizer lets
	// through at the start of a value: a boolean tautology (or 1=1,
	// and 'a'='a') ending the query with a comment, ORDER BY probes with
	// a comment, stacked queries after a number or quote, MSSQL's log
	// evasion.
	sqlTautology = re2.MustCompile(`(?i)(?:^|[\s'"\)])(?:or|and|xor|\|\||&&)\s+['"]?(\w+)['"]?\s*(?:=|==|<=>|\s+like\s+|\s+is\s+)\s*['"]?(\w+)['"]?\s*(?:#|--|/\*|;|$)`)
	sqlExtra     = re2.MustCompile(`(?i)\border\s+by\s+\d+\s*(?:#|--|/\*)|[\d'"\)]\s*;\s*(?:select|insert|update|delete|drop|exec|execute|declare|shutdown|waitfor|truncate|alter|create)\b|\bsp_password\b|\bxp_cmdshell\b|@@(?:version|datadir|hostname|basedir|servername|user|identity|spid|language|tmpdir)\b|\b(?:utl_http|utl_inaddr|utl_file|dbms_pipe|dbms_lock|dbms_xmlquery|dbms_java|ctxsys\.drithsx)\b|^\s*['")]*\s*order\s+by\s+\d+\s*$|\bwaitfor\s+delay\s+'|\b(?:union\s+(?:all\s+)?select|select\s+.{1,80}?\s+from\s+(?:information_schema|mysql\.|pg_|sys\.|dual\b))`)
	// crlfAnyHeader: a CRLF and a header of any name with a hyphen
	// (X-Injected: 1), the shape of response splitting into custom headers.
	crlfAnyHeader = re2.MustCompile(`(?i)\r?\n\s*(?:x-[\w-]+|[a-z]+-[a-z]+(?:-[a-z]+)*)\s*:\s*\S`)
	// unc: \\host\share, \\?\C:\, \\.\pipe\x.
	unc = re2.MustCompile(`(?:^|[\s"'=(;,|&])\\\\(?:[\w.$-]+|\?|\.)\\[\w.$?:-]`)
)

// Word gates: a detector's regular expression runs only when the value
// holds one of the words the expression cannot match without. Go's regexp
// costs tens of microseconds per kilobyte; these tests cost nanoseconds.
var (
	jsCallWords   = []string{"alert", "prompt", "confirm", "eval", "settimeout", "setinterval", "execscript", "importscripts", "atob", "fromcharcode", "constructor", "function"}
	jsGlobalWords = []string{"navigator", "document", "window.", "window[", "window [", "location.", "localstorage", "sessionstorage", "innerhtml", "outerhtml", ".src", "constructor", "__proto__", "xmlhttprequest",
		"self[", "top[", "parent[", "frames[", "globalthis", "this[", "self [", "top [", "this [", "['", "[\"", "[`"}
	// nodeWords: every alternative of nodeJS holds one of them.
	nodeWords = []string{"process", "require", "console", "module.exports=", "__js_function", "this.constructor"}
	ssjsWords = []string{"db.", "db .", "this.", "this .", "while(", "while (", "for(", "for (", "sleep(", "sleep (", "emit(", "emit (", "objectid", "isodate", "tojson", "printjson",
		"';", "\";", "' ;", "\" ;"}
	// mailVerbs are matched case-sensitively: the commands are upper case
	// in every injection, and the words are everyday words in lower case.
	mailVerbs = []string{"HELO", "EHLO", "HELP", "DATA", "QUIT", "RSET", "NOOP", "TURN", "STARTTLS", "VRFY", "EXPN",
		"CAPABILITY", "LOGOUT", "AUTHENTICATE", "LOGIN", "SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "LIST", "LSUB", "STATUS", "APPEND", "CHECK", "CLOSE", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "UID", "IDLE", "NAMESPACE", "GETACL", "SETACL"}
	mailWords        = []string{"mail from", "rcpt to", "send from", "saml from", "soml from", "bcc"}
	deserializeWords = []string{"!!", "!ruby", "tag:yaml", ":{", "ro0ab", "aced0005", "_$$nd_func", "$type", "@type", "objectdataprovider", "java.lang", "__builtin__", "posix", "cos\n", "__reduce__", "subprocess.", "os.system"}
)

func anyWord(l string, words []string) bool {
	for _, w := range words {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// detectMore runs the detectors of issue 17's classes on one value; l is
// v in lower case.
func detectMore(v string, g gate, cs *charset, out []string) []string {
	if cs.any("(`[") {
		if g&gateJSCall != 0 && jsCall.MatchString(v) && !proseCall(v) || cs.any("[") && jsObfuscation.MatchString(v) {
			out = append(out, RuleJS)
		}
	}
	if g&gateJSGlobal != 0 && cs.any(".[") && jsGlobal.MatchString(v) {
		out = append(out, RuleJS)
	}
	if g&gateDOM != 0 || cs.any("<") && openComment(v) {
		out = append(out, RuleJS)
	}
	if g&gateSSJS != 0 && ssjs.MatchString(v) {
		out = append(out, RuleSSJS)
	}
	if g&gateNode != 0 && nodeJS.MatchString(v) {
		out = append(out, RuleNode)
	}
	if cs.any("\r\n") && (g&gateMail != 0 || anyWord(v, mailVerbs)) && mailCommand.MatchString(v) {
		out = append(out, RuleMail)
	}
	if g&gateDeserialize != 0 && deserialize.MatchString(v) {
		out = append(out, RuleDeserialize)
	}
	if cs.any("=") && strings.Contains(v, ":=") && ldapExtensible.MatchString(v) {
		out = append(out, RuleLDAP)
	}
	if cs.any(`\`) && strings.Contains(v, `\\`) && unc.MatchString(v) {
		out = append(out, RuleUNC)
	}
	if cs.any("=") {
		if m := sqlTautology.FindStringSubmatch(v); m != nil && tautology(m[1], m[2]) {
			out = append(out, RuleSQLi2)
		}
	}
	if g&gateSQL != 0 || g&gateSQLOrder != 0 && orderBy(v) {
		if sqlExtra.MatchString(v) {
			out = append(out, RuleSQLi2)
		}
	}
	if cs.any("\r\n") && cs.any(":") && crlfAnyHeader.MatchString(v) && !prose(v) && !fieldLines(v) {
		out = append(out, RuleCRLF)
	}
	if detectShell(v, g, cs) {
		out = append(out, RuleCmd)
	}
	return detectClasses(v, g, cs, out)
}

// domWords are CRS 941180's list (Node-Validator's deny list) but for
// "<!--", which openComment judges: DOM calls and properties that XSS
// uses, the CSS binding that runs script, CDATA sections. They are found
// by the gates' one pass over the value (gateDOM).
var domWords = []string{"document.cookie", "document.domain", "document.queryselector", "document.body.appendchild",
	"document.write", ".parentnode", ".innerhtml", "window.location", "-moz-binding", "<![cdata["}

// openComment reports an HTML comment opener that is not a complete
// comment of text: "<!--" with no "-->" after it (what comments out the
// rest of a page, or hides markup from a filter), or with syntax inside:
// markup ("<!--<img src=x onerror=…>-->"), a server-side include or
// edge-side directive ("<!--#exec cmd=\"ls\" -->", "<!--esi …-->"),
// attributes, quotes, variables or shell punctuation. CRS 941180 matched
// every "<!--", and with it every Markdown document that carries an HTML
// comment of notes ("<!--- TODO: more examples -->"); a closed comment of
// text does nothing in a page.
func openComment(v string) bool {
	for {
		i := strings.Index(v, "<!--")
		if i < 0 {
			return false
		}
		v = v[i+4:]
		end := strings.Index(v, "-->")
		body := strings.TrimLeft(v[:max(end, 0)], "- \t\r\n")
		if end < 0 || strings.ContainsAny(v[:end], "<>=#\"'`$&;|{}[]\\") || len(body) >= 3 && strings.EqualFold(body[:3], "esi") {
			return true
		}
		v = v[end+3:]
	}
}

// tautology reports whether a comparison of a and b is always true:
// the same operand twice (1=1, 'a'='a', x=x) or two equal numbers.
func tautology(a, b string) bool {
	return strings.EqualFold(a, b)
}

// proseCall reports whether the only call jsCall found reads as prose:
// "print (black and white)", "write (or call) us", "open (9-5)". A call of
// a sink with code in it (a number, a string, an identifier with a dot, an
// empty list) is code.
func proseCall(v string) bool {
	loc := jsCall.FindStringIndex(v)
	if loc == nil {
		return true
	}
	rest := v[loc[1]:]
	if v[loc[1]-1] == '`' {
		return false
	}
	end := strings.IndexByte(rest, ')')
	if end < 0 {
		return len(rest) > 0 && rest[0] == ' ' // "open (to all" — unclosed prose
	}
	arg := strings.TrimSpace(rest[:end])
	if arg == "" || strings.ContainsAny(arg, `'"0123456789.$_[{=+/`) || !strings.Contains(arg, " ") {
		return false
	}
	// Words separated by spaces inside the parentheses, with a space
	// before the parenthesis: prose.
	name := v[loc[0]:loc[1]]
	return strings.Contains(name, " (")
}

// scannerHeaders are request header names (lower case) that only
// security scanners send.
var scannerHeaders = map[string]bool{
	"acunetix-aspect": true, "acunetix-aspect-password": true, "acunetix-aspect-queries": true,
	"acunetix-scanning-agreement": true, "acunetix-user-agreement": true, "x-wipp": true,
	"x-scan-memo": true, "x-request-memo": true, "x-scanner": true, "x-nessus": true, "bugbounty": true,
	"x-arachni-scan-seed": true, "x-burp-collaborator": true, "x-hackerone": true, "x-bug-bounty": true,
}

// scannerMarkers are substrings (lower case) of user agents and header
// values that name a scanner or an out-of-band interaction domain, beyond
// the CRS's scanners-user-agents.data.
var scannerMarkers = []string{
	"sqlmap", "nikto", "nuclei", "projectdiscovery", "acunetix", "netsparker", "invicti", "wfuzz", "wapiti",
	"w3af", "arachni", "skipfish", "dirbuster", "gobuster", "feroxbuster", "ffuf", "fuzz faster u fool",
	"zgrab", "masscan", "nmap", "openvas", "nessus", "qualys", "burp", "zaproxy", "owasp zap", "commix",
	"xsstrike", "dalfox", "havij", "hydra", "medusa", "wpscan", "joomscan", "whatweb", "jaeles", "bbot",
	"interact.sh", "interactsh", "oast.pro", "oast.live", "oast.site", "oast.online", "oast.fun", "oast.me",
	"oastify.com", "burpcollaborator", "dnslog.cn", "ceye.io", "canarytokens", "requestbin", "pipedream.net",
	"xss.ht", "bxss.me", "appspider", "webinspect", "crawler4j-sec", "morfeus", "zmeu", "jorgee", "l9explore",
	"sysscan", "vega/", "grabber", "paros", "webscarab", "brutus", "dirb/", "fimap", "sqlninja", "bsqlbf",
}

// oobMarkers are out-of-band interaction domains (lower case): a value
// that names one is a blind-injection probe wherever it is.
var oobMarkers = []string{"interact.sh", "oast.pro", "oast.live", "oast.site", "oast.online", "oast.fun", "oast.me",
	"oastify.com", "burpcollaborator", "dnslog.cn", "ceye.io", "bxss.me", "xss.ht", "canarytokens.com"}

// oobDomain reports whether v names an out-of-band interaction domain.
func oobDomain(v string) bool {
	if strings.IndexByte(v, '.') < 0 {
		return false
	}
	return oobSet.in(v)
}

var oobSet = newFoldSet(oobMarkers)

// scannerValue reports whether a header value names a scanner.
func scannerValue(v string) bool { return scannerSet.in(v) }

var scannerSet = newFoldSet(scannerMarkers)

// fieldLines reports whether v is a document of "name: value" lines from
// its first line on (YAML, a PO file's header, a block of MIME headers):
// every line is a field, a nested or continued one (indented), a list item
// or blank. A response-splitting payload puts its header after a value
// ("x\r\nX-Injected: 1"); the headers that do harm are crlfHeader's
// whatever comes first.
func fieldLines(v string) bool {
	n := 0
	for len(v) > 0 {
		line, rest, _ := strings.Cut(v, "\n")
		v = rest
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" || line[0] == ' ' || line[0] == '\t' || strings.HasPrefix(line, "- ") {
			continue
		}
		if !fieldLine.MatchString(line) {
			return false
		}
		n++
	}
	return n >= 2
}

var fieldLine = re2.MustCompile(`^["']?[A-Za-z0-9_][\w.-]*["']?\s*:(?:\s|$)`)
