package report

import (
	"os"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/scan"
)

// xssPayload is attacker-controlled text that must never run in the HTML
// report: it sets window.__xss when it does.
const xssPayload = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`

// sampleReport is a realistic scan of the fixture testdata/openapi.yaml: a
// finding in every group, every severity, blocked ones, two findings that
// share a fingerprint, one without an operation, one on an undocumented
// endpoint, evidence with script tags, secret-looking text and control
// characters, and a failed load test. Findings are deliberately out of
// order: the writers sort them.
func sampleReport() *scan.Report {
	start := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	return &scan.Report{
		Target:   "http://127.0.0.1:8080",
		Spec:     "testdata/openapi.yaml",
		Started:  start,
		Finished: start.Add(42*time.Second + 317*time.Millisecond),
		Requests: 1873,
		Operations: []string{
			"POST /login", "GET /pets", "POST /pets", "GET /pets/{id}",
			"DELETE /pets/{id}", "GET /admin/users", "POST /fetch",
		},
		Groups: []string{
			"functional", "injection", "authentication", "authorization", "property",
			"resource", "misconfiguration", "ssrf", "performance",
		},
		Findings: []scan.Finding{
			{
				CheckID: "misconfig.headers", Group: "misconfiguration", OWASP: "API8:2023",
				Title:    "Strict-Transport-Security header missing",
				Severity: scan.SeverityLow, Confidence: scan.ConfidenceCertain,
				Location: "header:strict-transport-security",
				Evidence: scan.Evidence{
					Request:  "GET /pets HTTP/1.1\r\nHost: 127.0.0.1:8080",
					Response: "HTTP/1.1 200 OK\r\nContent-Type: application/json",
					Detail:   "no Strict-Transport-Security on any of 7 operations",
				},
				Remediation: "Send Strict-Transport-Security: max-age=31536000; includeSubDomains on every response.",
			},
			{
				CheckID: "injection.sql.error", Group: "injection", OWASP: "API8:2023",
				Title:    "SQL injection (error-based) in query parameter q",
				Severity: scan.SeverityCritical, Confidence: scan.ConfidenceCertain,
				Operation: "GET /pets", OperationID: "listPets", Location: "query:q",
				Evidence: scan.Evidence{
					Request:  "GET /pets?q=%27%20OR%201%3D1-- HTTP/1.1\r\nAuthorization: [REDACTED]",
					Response: "HTTP/1.1 500 Internal Server Error\r\n\r\n{\"error\":\"near \\\"'\\\": syntax error (SQLITE_ERROR)\"}",
					Detail:   "database error message after a single quote; none with the baseline value",
				},
				Remediation: "Use parameterised queries; never build SQL from request values.",
			},
			{
				CheckID: "injection.xss.reflected", Group: "injection", OWASP: "API8:2023",
				Title:    "Script reflected unescaped in an HTML response",
				Severity: scan.SeverityHigh, Confidence: scan.ConfidenceFirm,
				Operation: "GET /pets", OperationID: "listPets", Location: "query:q",
				Evidence: scan.Evidence{
					Request:  "GET /pets?q=" + xssPayload + " HTTP/1.1",
					Response: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>No pets match " + xssPayload + "</p>",
					Detail:   "the payload came back byte for byte in text/html",
				},
				Remediation: "Encode output for its context and answer JSON APIs with application/json only.",
			},
			{
				CheckID: "injection.xss.reflected", Group: "injection", OWASP: "API8:2023",
				Title:    "Script reflected in a JSON error message",
				Severity: scan.SeverityHigh, Confidence: scan.ConfidenceTentative,
				Operation: "GET /pets", OperationID: "listPets", Location: "query:q",
				Evidence: scan.Evidence{
					Request:  "GET /pets?q=%3Cscript%3E HTTP/1.1",
					Response: `{"error":"unknown filter <script>alert(document.cookie)</script>"}`,
				},
				Remediation: "Do not echo input in error messages.",
			},
			{
				CheckID: "injection.sql.time", Group: "injection", OWASP: "API8:2023",
				Title:    "SQL injection (time-based) in path parameter id",
				Severity: scan.SeverityHigh, Confidence: scan.ConfidenceFirm,
				Operation: "DELETE /pets/{id}", OperationID: "deletePet", Location: "path:id",
				Evidence: scan.Evidence{
					Request:  "DELETE /pets/1%20AND%20SLEEP(5) HTTP/1.1",
					Response: "HTTP/1.1 403 Forbidden\r\nContent-Type: application/problem+json\r\n\r\n{\"title\":\"Forbidden\",\"stage\":\"waf.crs\"}",
					Detail:   "refused by the gateway (waf.crs); upstream not reached",
				},
				Remediation: "Use parameterised queries; never build SQL from request values.",
				Blocked:     true,
			},
			{
				CheckID: "authn.jwt.alg_none", Group: "authentication", OWASP: "API2:2023",
				Title:    "JWT with alg none accepted",
				Severity: scan.SeverityCritical, Confidence: scan.ConfidenceCertain,
				Operation: "GET /admin/users", OperationID: "listUsers", Location: "header:authorization",
				Evidence: scan.Evidence{
					Request:  "GET /admin/users HTTP/1.1\r\nAuthorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
					Response: "HTTP/1.1 200 OK\r\n\r\n[{\"id\":1,\"email\":\"admin@example.com\",\"api_key\":\"sk_live_[REDACTED]\"}]",
					Detail:   "unsigned token with sub=admin got 200; the real token got 200 too",
				},
				Remediation: "Pin the accepted algorithms (RS256/ES256) and reject unsigned tokens.",
			},
			{
				CheckID: "authz.bola", Group: "authorization", OWASP: "API1:2023",
				Title:    "Identity 2 reads identity 1's pet",
				Severity: scan.SeverityHigh, Confidence: scan.ConfidenceCertain,
				Operation: "GET /pets/{id}", OperationID: "getPet", Location: "path:id",
				Evidence: scan.Evidence{
					Request:  "GET /pets/17 HTTP/1.1\r\nAuthorization: [REDACTED] (identity 2)",
					Response: "HTTP/1.1 403 Forbidden\r\nContent-Type: application/problem+json",
					Detail:   "pet 17 was created by identity 1; the gateway refused identity 2 (authz.bola)",
				},
				Remediation: "Check the caller owns the object on every access by id.",
				Blocked:     true,
			},
			{
				CheckID: "authz.bfla", Group: "authorization", OWASP: "API5:2023",
				Title:    "A normal user lists all users",
				Severity: scan.SeverityHigh, Confidence: scan.ConfidenceCertain,
				Operation: "GET /admin/users", OperationID: "listUsers",
				Evidence: scan.Evidence{
					Request:  "GET /admin/users HTTP/1.1\r\nAuthorization: [REDACTED] (identity 2, role user)",
					Response: "HTTP/1.1 200 OK\r\n\r\n[{\"id\":1,\"email\":\"admin@example.com\"}]",
				},
				Remediation: "Enforce role checks on administrative operations server side.",
			},
			{
				CheckID: "property.mass_assignment", Group: "property", OWASP: "API3:2023",
				Title:    "Extra property role=admin accepted and persisted",
				Severity: scan.SeverityHigh, Confidence: scan.ConfidenceFirm,
				Operation: "POST /pets", OperationID: "createPet", Location: "body:/role",
				Evidence: scan.Evidence{
					Request:  "POST /pets HTTP/1.1\r\n\r\n{\"name\":\"rex\",\"role\":\"admin\"}",
					Response: "HTTP/1.1 201 Created\r\n\r\n{\"id\":18,\"name\":\"rex\",\"role\":\"admin\"}",
				},
				Remediation: "Bind request bodies to an allow-list of writable fields.",
			},
			{
				CheckID: "property.sensitive_data", Group: "property", OWASP: "API3:2023",
				Title:    "Response exposes password_hash and ssn",
				Severity: scan.SeverityMedium, Confidence: scan.ConfidenceCertain,
				Operation: "GET /pets/{id}", OperationID: "getPet", Location: "body:/owner",
				Evidence: scan.Evidence{
					Request: "GET /pets/1 HTTP/1.1",
					Response: "HTTP/1.1 200 OK\r\n\r\n{\"owner\":{\"password_hash\":\"$2b$12$[REDACTED]\",\"ssn\":\"[REDACTED]\"," +
						"\"note\":\"\x1b[31mred\x1b[0m \x00 & 'quotes' \\\"x\\\"\"}}",
					Detail: "fields not in the schema: owner.password_hash, owner.ssn",
				},
				Remediation: "Return response DTOs with only the documented fields.",
			},
			{
				CheckID: "resource.rate_limit", Group: "resource", OWASP: "API4:2023",
				Title:    "No rate limiting on login",
				Severity: scan.SeverityMedium, Confidence: scan.ConfidenceFirm,
				Operation: "POST /login", OperationID: "login",
				Evidence: scan.Evidence{
					Request: "POST /login HTTP/1.1 ×200 in 2s",
					Detail:  "200 requests, no 429, no Retry-After",
				},
				Remediation: "Limit login attempts per client and per account.",
			},
			{
				CheckID: "ssrf.url", Group: "ssrf", OWASP: "API7:2023",
				Title:    "Server fetches a URL from the request body",
				Severity: scan.SeverityHigh, Confidence: scan.ConfidenceCertain,
				Operation: "POST /fetch", OperationID: "fetchURL", Location: "body:/url",
				Evidence: scan.Evidence{
					Request:  "POST /fetch HTTP/1.1\r\n\r\n{\"url\":\"http://127.0.0.1:39111/canary/7f3a\"}",
					Response: "HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json",
					Detail:   "the gateway refused the private address; the canary saw no request",
				},
				Remediation: "Fetch only allow-listed hosts and refuse private and loopback addresses.",
				Blocked:     true,
			},
			{
				CheckID: "functional.server_error", Group: "functional", OWASP: "API8:2023",
				Title:    "500 on a valid request",
				Severity: scan.SeverityMedium, Confidence: scan.ConfidenceCertain,
				Operation: "GET /pets/{id}", OperationID: "getPet",
				Evidence: scan.Evidence{
					Request:  "GET /pets/0 HTTP/1.1",
					Response: "HTTP/1.1 500 Internal Server Error\r\n\r\npanic: runtime error: index out of range [0] with length 0\ngoroutine 1 [running]:",
				},
				Remediation: "Handle edge values and never return stack traces.",
			},
			{
				CheckID: "functional.schema", Group: "functional",
				Title:    "Response does not match the declared schema",
				Severity: scan.SeverityInfo, Confidence: scan.ConfidenceCertain,
				Operation: "POST /pets", OperationID: "createPet",
				Evidence: scan.Evidence{
					Response: "HTTP/1.1 201 Created\r\n\r\n{\"id\":\"18\"}",
					Detail:   "/id: got string, want integer",
				},
				Remediation: "Fix the response or the description so they agree.",
			},
			{
				CheckID: "inventory.undocumented", Group: "misconfiguration", OWASP: "API9:2023",
				Title:    "Undocumented debug endpoint answers",
				Severity: scan.SeverityLow, Confidence: scan.ConfidenceFirm,
				Operation: "GET /debug/vars",
				Evidence: scan.Evidence{
					Request:  "GET /debug/vars HTTP/1.1",
					Response: "HTTP/1.1 200 OK\r\n\r\n{\"cmdline\":[\"/app\",\"--db-password=[REDACTED]\"]}",
				},
				Remediation: "Remove debug endpoints from production or document and protect them.",
			},
			{
				CheckID: "performance.latency", Group: "performance", OWASP: "API4:2023",
				Title:    "p99 latency 1.2s above the 500ms threshold",
				Severity: scan.SeverityMedium, Confidence: scan.ConfidenceCertain,
				Operation: "GET /pets", OperationID: "listPets",
				Evidence:    scan.Evidence{Detail: "50 req/s for 10s: p50 40ms, p90 310ms, p99 1.2s"},
				Remediation: "Add an index for the pet search or cache its results.",
			},
		},
		Performance: &scan.Performance{
			Rate: 50, Duration: 10 * time.Second, Requests: 500,
			P50: 40 * time.Millisecond, P90: 310 * time.Millisecond, P99: 1200 * time.Millisecond,
			ErrorRate: 0.004, Passed: false,
		},
	}
}

// sampleOptions are the options the scan command would pass for the sample.
func sampleOptions(t testing.TB) Options {
	t.Helper()
	src, err := os.ReadFile("testdata/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return Options{SpecPath: "testdata/openapi.yaml", SpecSource: src, ToolVersion: "0.1.0-test"}
}

// expectedIDs returns the ids of the sample's findings the way every
// format must name them, mapped to their check ids.
func expectedIDs(r *scan.Report) map[string]string {
	_, entries := sorted(r)
	m := map[string]string{}
	for _, e := range entries {
		m[e.ID] = e.CheckID
	}
	return m
}
