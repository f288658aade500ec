package scan

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/openapi"
)

// The checks of the misconfiguration group.
var (
	checkMisconfigTechDisclosure = define(CheckInfo{ID: "misconfig.tech-disclosure", Group: "misconfiguration", OWASP: OWASPMisconfig, CWE: 497, Severity: SeverityLow,
		Title:       "Technology and version disclosed in response headers",
		Remediation: "Remove X-Powered-By and similar headers, and versions from Server, at the application or the gateway."})
	checkMisconfigHeaders = define(CheckInfo{ID: "misconfig.headers", Group: "misconfiguration", OWASP: OWASPMisconfig, CWE: 693, Severity: SeverityLow,
		Title:       "Missing security header",
		Remediation: "Send X-Content-Type-Options: nosniff on every response, a CSP and frame protection on HTML, HSTS over HTTPS."})
	checkMisconfigCors = define(CheckInfo{ID: "misconfig.cors", Group: "misconfiguration", OWASP: OWASPMisconfig, CWE: 942, Severity: SeverityHigh,
		Title:       "CORS reflects any origin with credentials",
		Remediation: "Allow only known origins; never echo the Origin header together with Access-Control-Allow-Credentials."})
	checkMisconfigVerboseErrors = define(CheckInfo{ID: "misconfig.verbose-errors", Group: "misconfiguration", OWASP: OWASPMisconfig, CWE: 209, Severity: SeverityMedium,
		Title:       "Verbose error: stack trace or internal detail in a response",
		Remediation: "Answer errors with a generic problem document and log the detail server side."})
	checkMisconfigTls = define(CheckInfo{ID: "misconfig.tls", Group: "misconfiguration", OWASP: OWASPMisconfig, CWE: 327, Severity: SeverityMedium,
		Title:       "Weak TLS version or cipher suite accepted",
		Remediation: "Accept TLS 1.2 and 1.3 only, with AEAD cipher suites and forward secrecy."})
	checkMisconfigPlainHttp = define(CheckInfo{ID: "misconfig.plain-http", Group: "misconfiguration", OWASP: OWASPMisconfig, CWE: 319, Severity: SeverityMedium,
		Title:       "API served over plain HTTP",
		Remediation: "Serve the API over HTTPS only, with HSTS."})
	checkMisconfigInventory = define(CheckInfo{ID: "misconfig.inventory", Group: "misconfiguration", OWASP: OWASPInventory, CWE: 1059, Severity: SeverityMedium,
		Title:       "Undocumented or debug endpoint reachable",
		Remediation: "Remove debug endpoints from production and document (or block) every endpoint."})
	checkMisconfigOldVersion = define(CheckInfo{ID: "misconfig.old-version", Group: "misconfiguration", OWASP: OWASPInventory, CWE: 1059, Severity: SeverityMedium,
		Title:       "An older API version is still served",
		Remediation: "Retire old API versions, or give them the current version's controls, and document every version served."})
)

var _ = runs("misconfiguration", runMisconfiguration)

// stackTrace matches stack traces and exception dumps of common runtimes.
var stackTrace = regexp.MustCompile(`(goroutine \d+ \[[a-z ]+\]:|panic: runtime error|Traceback \(most recent call last\)|File "[^"]+", line \d+, in |Exception in thread "|\bat [\w.$]+\([\w]+\.(java|kt|scala):\d+\)|System\.[\w.]*Exception:|\.go:\d+ \+0x[0-9a-f]+|#\d+ /[\w/.-]+\.php\(\d+\))`)

// passive runs on every answer: verbose errors are found wherever they
// show up.
func (s *scanner) passive(r *request, res *result) {
	if !s.enabled("misconfiguration") || res.err != nil || len(res.body) == 0 {
		return
	}
	if m := stackTrace.Find(res.body); m != nil {
		var o *opState
		for _, x := range s.ops {
			if x.op == r.op {
				o = x
			}
		}
		if o == nil {
			o = &opState{op: r.op}
		}
		s.report(checkMisconfigVerboseErrors, o, "", ConfidenceCertain, s.evidence(res, fmt.Sprintf("the answer holds a stack trace (%q)", m)))
	}
}

func runMisconfiguration(ctx context.Context, s *scanner) {
	s.securityHeaders()
	s.cors(ctx)
	s.malformed(ctx)
	s.transport(ctx)
	s.inventory(ctx)
	s.oldVersions(ctx)
}

// securityHeaders reports each missing header once, with the first answer
// that lacks it.
func (s *scanner) securityHeaders() {
	https := s.base.Scheme == "https"
	for _, o := range s.ops {
		res := o.res
		if !res.ok() || gatewayRefusal(res) {
			continue
		}
		miss := func(h, detail string) {
			s.reportKey(checkMisconfigHeaders, o, "header:"+h, ConfidenceCertain, s.evidence(res, detail), false, "misconfig.headers|"+h)
		}
		if !strings.EqualFold(res.header.Get("X-Content-Type-Options"), "nosniff") {
			miss("X-Content-Type-Options", "no X-Content-Type-Options: nosniff")
		}
		if ct := res.contentType(); ct == "text/html" {
			if res.header.Get("Content-Security-Policy") == "" {
				miss("Content-Security-Policy", "an HTML answer without Content-Security-Policy")
			}
			if res.header.Get("X-Frame-Options") == "" && !strings.Contains(res.header.Get("Content-Security-Policy"), "frame-ancestors") {
				miss("X-Frame-Options", "an HTML answer without frame protection")
			}
		}
		if https && res.header.Get("Strict-Transport-Security") == "" {
			miss("Strict-Transport-Security", "an HTTPS answer without HSTS")
		}
		for _, h := range techHeaders {
			v := res.header.Get(h)
			if v == "" || h == "Server" && !versioned.MatchString(v) {
				continue
			}
			s.reportKey(checkMisconfigTechDisclosure, o, "header:"+h, ConfidenceCertain,
				s.evidence(res, h+": "+v+" tells an attacker which software (and version) to look up exploits for"), false, "misconfig.tech-disclosure|"+h)
		}
	}
}

// techHeaders name the software behind an answer. Server counts only
// with a version in it ("nginx" alone says little; "nginx/1.18.0" names
// the exploits to try).
var techHeaders = []string{"X-Powered-By", "Server", "X-AspNet-Version", "X-AspNetMvc-Version", "X-Generator", "X-Runtime-Version", "X-Version"}

var versioned = regexp.MustCompile(`\d+\.\d+`)

// evilOrigin is the origin the CORS probe claims.
const evilOrigin = "https://pcscan-evil.example"

func (s *scanner) cors(ctx context.Context) {
	n := 0
	for _, o := range s.ops {
		if n >= 3 || o.op.Method != http.MethodGet || !o.res.ok() {
			continue
		}
		n++
		r := o.req.clone()
		r.header.Set("Origin", evilOrigin)
		res := s.send(ctx, r)
		if res.err != nil {
			continue
		}
		acao := res.header.Get("Access-Control-Allow-Origin")
		creds := strings.EqualFold(res.header.Get("Access-Control-Allow-Credentials"), "true")
		if (acao == evilOrigin || acao == "null") && creds {
			s.reportKey(checkMisconfigCors, o, "header:Origin", ConfidenceCertain, s.evidence(res,
				"the Origin "+evilOrigin+" was reflected with Access-Control-Allow-Credentials: true"), false, "misconfig.cors")
			return
		}
	}
}

// malformed sends a broken JSON body to a few operations: the answer must
// be a 4xx without internals (the passive check sees stack traces).
func (s *scanner) malformed(ctx context.Context) {
	n := 0
	for _, o := range s.ops {
		if n >= 5 || o.req.body == nil || !o.res.ok() {
			continue
		}
		n++
		r := o.req.clone()
		r.body = nil
		r.raw = []byte(`{"pcscan": [1, 2,`)
		r.contentType = "application/json"
		s.send(ctx, r)
	}
}

// transport checks plain HTTP and, over HTTPS, old protocol versions and
// weak cipher suites. Handshakes count against the budget.
func (s *scanner) transport(ctx context.Context) {
	host := s.base.Hostname()
	if s.base.Scheme == "http" {
		if !isLoopbackHost(host) {
			s.reportKey(checkMisconfigPlainHttp, nil, "target", ConfidenceCertain, Evidence{
				Request: "GET " + s.base.String(), Detail: "the target is served over plain HTTP"}, false, "")
		}
		return
	}
	addr := s.base.Host
	if s.base.Port() == "" {
		addr = net.JoinHostPort(host, "443")
	}
	type probe struct {
		what string
		cfg  *tls.Config
	}
	var weak []uint16
	for _, c := range tls.InsecureCipherSuites() {
		weak = append(weak, c.ID)
	}
	probes := []probe{
		{"TLS 1.0", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11}},
		{"insecure cipher suites (TLS 1.2)", &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: weak}},
	}
	for _, p := range probes {
		if err := s.budget.Acquire(ctx); err != nil {
			s.exhausted.Store(true)
			return
		}
		p.cfg.ServerName = host
		p.cfg.InsecureSkipVerify = true //nolint:gosec // only the protocol is probed
		d := &net.Dialer{Timeout: 5 * time.Second}
		conn, err := tls.DialWithDialer(d, "tcp", addr, p.cfg)
		if err != nil {
			continue
		}
		st := conn.ConnectionState()
		conn.Close()
		s.reportKey(checkMisconfigTls, nil, "tls:"+p.what, ConfidenceCertain, Evidence{
			Request: "TLS handshake with " + addr + " offering " + p.what,
			Detail:  fmt.Sprintf("the server accepted %s with %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)),
		}, false, "")
	}
}

// debugPaths is the small wordlist of the inventory check.
var debugPaths = []string{
	"/debug", "/debug/vars", "/debug/pprof/", "/actuator", "/actuator/env", "/.env", "/.git/config",
	"/server-status", "/admin", "/console", "/phpinfo.php", "/config.json", "/env", "/trace",
	"/swagger.json", "/api-docs", "/graphql", "/test", "/internal",
}

// inventory asks for well-known debug and undocumented paths, at the
// root and under the prefix every documented path shares ("/api"); an
// answer that is 200 and unlike the answer to a random path is reported.
// An administrative one (/api/admin) that answers a normal identity is
// also broken function level authorization.
func (s *scanner) inventory(ctx context.Context) {
	mk := func(p string) *request {
		op := &openapi.Operation{Method: http.MethodGet, Path: p}
		return &request{op: op, method: http.MethodGet, path: map[string]string{}, header: http.Header{}, ident: min(0, len(s.ids)-1)}
	}
	for _, pre := range s.pathPrefixes() {
		random := s.send(ctx, mk(pre+"/pcscan-no-such-path-5f2c"))
		for _, p := range debugPaths {
			p = pre + p
			if s.documented(p) {
				continue
			}
			r := mk(p)
			res := s.send(ctx, r)
			if res.err != nil || res.status != http.StatusOK || gatewayRefusal(res) {
				continue
			}
			if random.err == nil && random.status == res.status && sameAnswer(random, res) {
				continue
			}
			o := &opState{op: r.op}
			s.reportKey(checkMisconfigInventory, o, "path:"+p, ConfidenceFirm, s.evidence(res,
				"GET "+p+" is not in the description and answered 200"), false, "")
			if adminPath.MatchString(p) && r.ident == 0 && s.enabled("authorization") {
				// Only a page that refuses anonymous callers is a function
				// for some users (an admin login page answers everyone).
				anon := r.clone()
				anon.ident = -1
				if a := s.send(ctx, anon); a.err == nil && (a.status == http.StatusUnauthorized || a.status == http.StatusForbidden) {
					s.report(checkAuthzBfla, o, "", ConfidenceFirm, s.evidence(res,
						fmt.Sprintf("%s, a normal identity, got 200 from the undocumented administrative GET %s, which refuses anonymous callers (%d)", s.ids[0].name, p, a.status)))
				}
			}
		}
	}
}

// pathPrefixes returns "" and the leading segments every documented path
// shares ("/api", "/api/v1"), when they share any.
func (s *scanner) pathPrefixes() []string {
	var common []string
	for i, op := range s.spec.Operations() {
		segs := strings.Split(strings.Trim(op.Path, "/"), "/")
		if i == 0 {
			common = segs[:max(len(segs)-1, 0)]
			continue
		}
		n := 0
		for n < len(common) && n < len(segs)-1 && common[n] == segs[n] && !strings.Contains(segs[n], "{") {
			n++
		}
		common = common[:n]
	}
	if len(common) == 0 || strings.Contains(strings.Join(common, "/"), "{") {
		return []string{""}
	}
	return []string{"", "/" + strings.Join(common, "/")}
}

// versionSegment is a path segment that names an API version ("v2").
var versionSegment = regexp.MustCompile(`^v(\d{1,2})$`)

// oldVersions sends the baseline of each documented GET and POST whose
// path names a version (/api/v2/users/login) to the earlier versions'
// paths (/api/v1/users/login) the description does not have. An earlier
// version that answers, unlike a version that cannot exist (v97), is an
// old API still served: it rarely has the current one's fixes.
func (s *scanner) oldVersions(ctx context.Context) {
	tried := map[string]bool{}
	for _, o := range s.ops {
		if o.op.Method != http.MethodGet && o.op.Method != http.MethodPost || o.req == nil {
			continue
		}
		segs := strings.Split(o.op.Path, "/")
		for i, seg := range segs {
			m := versionSegment.FindStringSubmatch(seg)
			if m == nil {
				continue
			}
			n, _ := strconv.Atoi(m[1])
			at := func(v string) *request {
				alt := slices.Clone(segs)
				alt[i] = v
				op := *o.op
				op.Path = strings.Join(alt, "/")
				r := o.req.clone()
				r.op = &op
				r.fresh = nil
				return r
			}
			var none *result
			for k := n - 1; k >= 1 && k >= n-3; k-- {
				r := at("v" + strconv.Itoa(k))
				key := r.op.Method + " " + r.op.Path
				if tried[key] || s.documented(r.op.Path) {
					continue
				}
				tried[key] = true
				res := s.send(ctx, r)
				if res.err != nil || gatewayRefusal(res) || res.status >= 500 {
					continue
				}
				switch res.status {
				case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusGone, http.StatusNotImplemented:
					continue
				}
				if none == nil {
					none = s.send(ctx, at("v97"))
				}
				if none.err == nil && none.status == res.status {
					continue
				}
				s.report(checkMisconfigOldVersion, &opState{op: r.op}, "path:"+r.op.Path, ConfidenceFirm, s.evidence(res,
					fmt.Sprintf("%s is not in the description (which has %s) and answered %d; a version that cannot exist (v97) answered %d",
						key, o.key(), res.status, none.status)))
			}
		}
	}
}

// documented reports whether the description has a path matching p.
func (s *scanner) documented(p string) bool {
	for _, op := range s.spec.Operations() {
		if op.Path == p || strings.TrimSuffix(op.Path, "/") == strings.TrimSuffix(p, "/") {
			return true
		}
	}
	return false
}
