package scan

import "sort"

// CheckInfo describes one check: what every finding of it carries besides
// its evidence. Report writers use it for rule metadata (SARIF rules).
type CheckInfo struct {
	// ID is the check id ("injection.sql.error").
	ID string
	// Group is the check group ("injection").
	Group string
	// Title is a one-line summary of the problem.
	Title string
	// OWASP is the OWASP API Security Top 10 2023 category.
	OWASP string
	// Severity is the severity of a confirmed finding.
	Severity Severity
	// Remediation is one line on how to fix it.
	Remediation string
}

// OWASP API Security Top 10 2023 categories.
const (
	OWASPBOLA          = "API1:2023"
	OWASPAuthn         = "API2:2023"
	OWASPProperty      = "API3:2023"
	OWASPResource      = "API4:2023"
	OWASPBFLA          = "API5:2023"
	OWASPFlows         = "API6:2023"
	OWASPSSRF          = "API7:2023"
	OWASPMisconfig     = "API8:2023"
	OWASPInventory     = "API9:2023"
	OWASPUnsafeConsume = "API10:2023"
)

var catalog = map[string]CheckInfo{}

func def(id, group, owasp string, sev Severity, title, fix string) {
	catalog[id] = CheckInfo{ID: id, Group: group, Title: title, OWASP: owasp, Severity: sev, Remediation: fix}
}

func init() {
	g := "functional"
	def("functional.status", g, OWASPMisconfig, SeverityLow, "Undeclared response status code",
		"Declare every status code the operation returns, or stop returning the undeclared one.")
	def("functional.content-type", g, OWASPMisconfig, SeverityLow, "Response content type differs from the description",
		"Return the media type the description declares for this status (and declare the one you return).")
	def("functional.schema", g, OWASPMisconfig, SeverityLow, "Response body does not match its schema",
		"Make the response match its declared schema, or fix the schema.")
	def("functional.server-error", g, OWASPMisconfig, SeverityMedium, "Server error (5xx) on valid or mutated input",
		"Validate input and handle errors so that bad input gets a 4xx and valid input never fails.")
	def("functional.negative-accepted", g, OWASPMisconfig, SeverityMedium, "Invalid input accepted",
		"Validate requests against the description: wrong types, missing required values and out-of-range values must get a 4xx.")

	g = "injection"
	def("injection.sql.error", g, OWASPMisconfig, SeverityHigh, "SQL injection (error-based)",
		"Use parameterised queries; never build SQL from input; do not return database errors.")
	def("injection.sql.boolean", g, OWASPMisconfig, SeverityHigh, "SQL injection (boolean-based)",
		"Use parameterised queries; never build SQL from input.")
	def("injection.sql.time", g, OWASPMisconfig, SeverityHigh, "SQL injection (time-based)",
		"Use parameterised queries; never build SQL from input.")
	def("injection.nosql", g, OWASPMisconfig, SeverityHigh, "NoSQL operator injection",
		"Accept only the declared scalar types; never pass objects from input into database queries.")
	def("injection.command", g, OWASPMisconfig, SeverityCritical, "OS command injection",
		"Never run a shell with input; call programs with fixed argument lists and validate values against an allow list.")
	def("injection.ssti", g, OWASPMisconfig, SeverityHigh, "Server-side template injection",
		"Never compile templates from input; pass input to templates as data only.")
	def("injection.xss", g, OWASPMisconfig, SeverityMedium, "Reflected cross-site scripting",
		"Encode output for its context (HTML-escape), serve JSON as application/json with nosniff, and set a CSP.")
	def("injection.path-traversal", g, OWASPMisconfig, SeverityHigh, "Path traversal",
		"Resolve file names against a fixed directory and refuse '..', separators and absolute paths.")
	def("injection.crlf", g, OWASPMisconfig, SeverityMedium, "CRLF injection into response headers",
		"Refuse control characters in values that go into headers.")

	g = "authentication"
	def("authn.missing", g, OWASPAuthn, SeverityHigh, "Operation answers without the credentials its description requires",
		"Enforce the operation's security requirement on the server (or in the gateway) for every call.")
	def("authn.jwt.none", g, OWASPAuthn, SeverityCritical, "JWT with alg none accepted",
		"Accept only the expected signing algorithms (never none) and verify every signature.")
	def("authn.jwt.unsigned", g, OWASPAuthn, SeverityCritical, "JWT without signature accepted",
		"Verify the signature of every token; reject tokens with an empty signature.")
	def("authn.jwt.expired", g, OWASPAuthn, SeverityHigh, "Expired JWT accepted",
		"Check exp (and nbf) on every token with a small clock skew.")
	def("authn.jwt.weak-secret", g, OWASPAuthn, SeverityCritical, "JWT signed with a guessable HMAC secret",
		"Use a random secret of at least 256 bits (or asymmetric keys) and rotate the compromised one.")
	def("authn.user-enumeration", g, OWASPAuthn, SeverityMedium, "Login reveals which user names exist",
		"Answer a wrong user name and a wrong password with the same status, body and timing.")
	def("authn.login-rate-limit", g, OWASPAuthn, SeverityMedium, "No lockout or rate limit on login",
		"Limit failed logins per account and per client (429 with Retry-After) and alert on bursts.")

	g = "authorization"
	def("authz.bola", g, OWASPBOLA, SeverityHigh, "Broken object level authorization: another identity reaches the object",
		"Check on every request that the caller owns (or may access) the object the id names.")
	def("authz.bfla", g, OWASPBFLA, SeverityHigh, "Broken function level authorization: a normal user calls an admin operation",
		"Check the caller's role for every administrative operation; deny by default.")
	def("authz.privilege-field", g, OWASPProperty, SeverityHigh, "Privilege field (role, is_admin) can be set by the caller",
		"Never bind privilege fields from request bodies; change roles only through an admin operation.")

	g = "property"
	def("property.mass-assignment", g, OWASPProperty, SeverityMedium, "Mass assignment: undeclared property accepted and persisted",
		"Bind only the declared writable properties and refuse unknown ones.")
	def("property.undeclared-fields", g, OWASPProperty, SeverityMedium, "Excessive data exposure: response fields not in the schema",
		"Return only the properties the response schema declares (an explicit response model).")
	def("property.sensitive-data", g, OWASPProperty, SeverityHigh, "Sensitive data in a response (password, hash, token, SSN, card number)",
		"Never return secrets, hashes or personal identifiers; mask card numbers.")

	g = "resource"
	def("resource.rate-limit", g, OWASPResource, SeverityMedium, "No rate limiting",
		"Rate limit per client and per identity, answering 429 with RateLimit and Retry-After headers.")
	def("resource.page-size", g, OWASPResource, SeverityMedium, "Unbounded page size",
		"Cap page sizes server side at the documented maximum.")
	def("resource.large-body", g, OWASPResource, SeverityMedium, "Large request bodies accepted",
		"Limit request body size (413) to what the operation needs.")
	def("resource.redos", g, OWASPResource, SeverityMedium, "Slow regular expression (ReDoS)",
		"Use a linear-time regex engine or bound input length before matching.")

	g = "misconfiguration"
	def("misconfig.headers", g, OWASPMisconfig, SeverityLow, "Missing security header",
		"Send X-Content-Type-Options: nosniff on every response, a CSP and frame protection on HTML, HSTS over HTTPS.")
	def("misconfig.cors", g, OWASPMisconfig, SeverityHigh, "CORS reflects any origin with credentials",
		"Allow only known origins; never echo the Origin header together with Access-Control-Allow-Credentials.")
	def("misconfig.verbose-errors", g, OWASPMisconfig, SeverityMedium, "Verbose error: stack trace or internal detail in a response",
		"Answer errors with a generic problem document and log the detail server side.")
	def("misconfig.tls", g, OWASPMisconfig, SeverityMedium, "Weak TLS version or cipher suite accepted",
		"Accept TLS 1.2 and 1.3 only, with AEAD cipher suites and forward secrecy.")
	def("misconfig.plain-http", g, OWASPMisconfig, SeverityMedium, "API served over plain HTTP",
		"Serve the API over HTTPS only, with HSTS.")
	def("misconfig.inventory", g, OWASPInventory, SeverityMedium, "Undocumented or debug endpoint reachable",
		"Remove debug endpoints from production and document (or block) every endpoint.")

	def("ssrf.canary", "ssrf", OWASPSSRF, SeverityHigh, "Server-side request forgery: the API fetched a URL given in input",
		"Fetch only allow-listed hosts, resolve and refuse internal addresses, and do not follow redirects.")

	def("performance.load", "performance", OWASPResource, SeverityMedium, "Load test failed its latency or error threshold",
		"Find the slow operations in the report, add capacity or caching, or relax the threshold if it is wrong.")
}

// Checks returns every check the scanner has, ordered by id.
func Checks() []CheckInfo {
	out := make([]CheckInfo, 0, len(catalog))
	for _, c := range catalog {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Check returns the description of check id and whether it exists.
func Check(id string) (CheckInfo, bool) {
	c, ok := catalog[id]
	return c, ok
}
