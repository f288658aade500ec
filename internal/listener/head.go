package listener

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/portcullis/portcullis/internal/redact"
)

// Anomaly describes why a request head was refused before reaching the
// gateway. Its fields are safe to log and to put in a security event; none
// of them echoes the request except Excerpt, which is short and escaped.
type Anomaly struct {
	// Status is the HTTP status to answer with: 400, 417, 431 or 501.
	Status int
	// Rule is the rule id, one of the Rule* constants.
	Rule string
	// Reason is a short fixed sentence for the client and the logs; it
	// never contains request data.
	Reason string
	// Excerpt is the first bytes (at most 64) of the offending line, with
	// bytes outside printable ASCII and backslashes escaped as \xNN.
	// Values of secret headers (Authorization, Cookie...) and secret query
	// parameters are masked first (see Options.Redactor).
	Excerpt string

	line    []byte // offending line, until the excerpt is made
	request bool   // line is the request line
}

// Rule ids of the anomalies the sniffer detects. They are in the limits
// namespace because they share the limits stage's event vocabulary.
const (
	// RuleAmbiguousLength: both Content-Length and Transfer-Encoding (the
	// classic request smuggling set-up).
	RuleAmbiguousLength = "limits.ambiguous-length"
	// RuleBadContentLength: a Content-Length that is not a decimal number,
	// or several differing Content-Length values.
	RuleBadContentLength = "limits.bad-content-length"
	// RuleBadTransferEncoding: a Transfer-Encoding other than exactly one
	// "chunked", or any Transfer-Encoding on an HTTP/1.0 request.
	RuleBadTransferEncoding = "limits.bad-transfer-encoding"
	// RuleDuplicateHost: more than one Host header.
	RuleDuplicateHost = "limits.duplicate-host"
	// RuleBadEncoding: a '%' in the request target not followed by two hex
	// digits.
	RuleBadEncoding = "limits.bad-encoding"
	// RuleControlChar: NUL or another control byte in the request line or
	// a header, or a raw space inside the request target.
	RuleControlChar = "limits.control-char"
	// RuleBadHeader: a malformed header line (no colon, whitespace before
	// the colon, obsolete line folding, invalid name characters), a
	// missing or invalid Host, or an unsupported Expect.
	RuleBadHeader = "limits.bad-header"
	// RuleHeaderBytes: the request line and headers exceed the limit.
	RuleHeaderBytes = "limits.header-bytes"
	// RuleBadRequestLine: a request line that is not METHOD SP TARGET SP
	// HTTP/1.x, or an unparsable target.
	RuleBadRequestLine = "limits.bad-request-line"
)

// head is what the sniffer needs to know about a valid request head to
// follow the body framing.
type head struct {
	chunked bool
	length  int64
	// passthrough: the stream is HTTP/2 from here on (the prior-knowledge
	// preface on an h2c listener); stop sniffing. An Upgrade or CONNECT
	// request does not stop the sniffer: only a 101 the server actually
	// sends does (sniffConn.SwitchProtocols).
	passthrough bool
}

// maxExcerpt is how many input bytes an excerpt shows at most.
const maxExcerpt = 64

func excerpt(line []byte) string {
	if len(line) > maxExcerpt {
		line = line[:maxExcerpt]
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	for _, c := range line {
		if c >= 0x20 && c < 0x7f && c != '\\' {
			b.WriteByte(c)
			continue
		}
		b.WriteString(`\x`)
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

// anomaly reports a problem found in the request line.
func anomaly(status int, rule, reason string, line []byte) *Anomaly {
	return &Anomaly{Status: status, Rule: rule, Reason: reason, line: line, request: true}
}

// hdrAnomaly reports a problem found in a header line.
func hdrAnomaly(status int, rule, reason string, line []byte) *Anomaly {
	return &Anomaly{Status: status, Rule: rule, Reason: reason, line: line}
}

// redactedExcerpt masks secrets in the offending line, then cuts and
// escapes it.
func redactedExcerpt(red *redact.Redactor, line []byte, request bool) string {
	if red == nil {
		red = redact.New(nil, nil)
	}
	s := string(line)
	switch {
	case request:
		if i := strings.IndexByte(s, '?'); i >= 0 {
			end := len(s)
			if j := strings.IndexByte(s[i:], ' '); j >= 0 {
				end = i + j
			}
			s = s[:i+1] + red.Query(s[i+1:end]) + s[end:]
		}
	case len(s) > 0 && (s[0] == ' ' || s[0] == '\t'):
		// Security: an obs-fold line continues the previous header, whose
		// name it does not carry: it may be the rest of an API key.
		return excerpt([]byte(s[:1] + redact.Mask))
	default:
		// A header line's value is shown only for the headers that frame
		// the request (what the anomaly is about); any other may be a
		// credential under a name nobody knows is secret.
		if c := strings.IndexByte(s, ':'); c >= 0 && !framingHeader(strings.TrimRight(s[:c], " \t")) {
			s = s[:c+1] + " " + redact.Mask
		} else if c < 0 {
			s = redact.Mask
		}
	}
	return excerpt([]byte(red.Text(s)))
}

// framingHeader reports whether a header's value is shown in anomaly
// excerpts.
func framingHeader(name string) bool {
	for _, h := range []string{"host", "content-length", "transfer-encoding", "expect", "connection", "upgrade"} {
		if strings.EqualFold(name, h) {
			return true
		}
	}
	return false
}

// lines splits a head into lines, dropping the LF and one CR before it. The
// final empty line(s) are dropped.
func lines(out [][]byte, b []byte) [][]byte {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		line := b[:i]
		b = b[i+1:]
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			break
		}
		out = append(out, line)
	}
	return out
}

func isTokenByte(c byte) bool { return httpguts.IsTokenRune(rune(c)) }

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isTokenByte(c) {
			return false
		}
	}
	return true
}

// ctl reports whether b holds a control byte; HTAB is allowed when tab.
func ctl(b []byte, tab bool) bool {
	// Eight bytes at a time: a word with no byte below 0x20 and none equal
	// to 0x7f (the usual case) is skipped whole; a word that may have one
	// is checked byte by byte (tabs are allowed in header lines).
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		del := w ^ (lo * 0x7f)
		if ((w-lo*0x20)&^w|(del-lo)&^del)&hi != 0 {
			for _, c := range b[:8] {
				if (c < 0x20 && !(tab && c == '\t')) || c == 0x7f {
					return true
				}
			}
		}
		b = b[8:]
	}
	for _, c := range b {
		if (c < 0x20 && !(tab && c == '\t')) || c == 0x7f {
			return true
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func validPercent(s []byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

// splitSpace appends to out the parts of b between single spaces (like
// bytes.Split(b, " ")), stopping after cap(out) parts: the rest of b is
// then the last part.
func splitSpace(out [][]byte, b []byte) [][]byte {
	for len(out) < cap(out)-1 {
		i := bytes.IndexByte(b, ' ')
		if i < 0 {
			break
		}
		out = append(out, b[:i])
		b = b[i+1:]
	}
	return append(out, b)
}

func versionLike(b []byte) bool { return bytes.HasPrefix(b, []byte("HTTP/")) }

// parseHead validates one complete request head (request line, header
// lines and the terminating empty line, without leading empty lines). It
// is stricter than net/http: every head it accepts, net/http accepts too,
// so that net/http never answers with its own canned error. h2c allows the
// HTTP/2 prior-knowledge preface.
func parseHead(b []byte, h2c bool) (head, *Anomaly) {
	var lbuf [32][]byte
	ls := lines(lbuf[:0], b)
	if len(ls) == 0 {
		return head{}, anomaly(400, RuleBadRequestLine, "empty request line", nil)
	}
	rl := ls[0]
	if ctl(rl, false) {
		return head{}, anomaly(400, RuleControlChar, "control character in the request line", rl)
	}
	var pbuf [4][]byte
	parts := splitSpace(pbuf[:0], rl)
	if len(parts) < 3 {
		return head{}, anomaly(400, RuleBadRequestLine, "malformed request line", rl)
	}
	method, version := parts[0], parts[len(parts)-1]
	if len(parts) > 3 {
		version = rl[bytes.LastIndexByte(rl, ' ')+1:]
		if isToken(method) && versionLike(version) {
			return head{}, anomaly(400, RuleControlChar, "raw space in the request target", rl)
		}
		return head{}, anomaly(400, RuleBadRequestLine, "malformed request line", rl)
	}
	target := parts[1]
	if !isToken(method) {
		return head{}, anomaly(400, RuleBadRequestLine, "invalid method", rl)
	}
	if len(target) == 0 {
		return head{}, anomaly(400, RuleBadRequestLine, "empty request target", rl)
	}
	minor := 0
	preface := false
	switch string(version) {
	case "HTTP/1.1":
		minor = 1
	case "HTTP/1.0":
	case "HTTP/2.0":
		if string(method) == "PRI" && string(target) == "*" && len(ls) == 1 && h2c {
			preface = true
			break
		}
		return head{}, anomaly(400, RuleBadRequestLine, "HTTP/2 preface not accepted on this listener", rl)
	default:
		return head{}, anomaly(400, RuleBadRequestLine, "unsupported HTTP version", rl)
	}
	if !validPercent(target) {
		return head{}, anomaly(400, RuleBadEncoding, "invalid percent-encoding in the request target", rl)
	}
	connect := string(method) == "CONNECT"
	raw := string(target)
	if connect && !strings.HasPrefix(raw, "/") {
		raw = "http://" + raw
	}
	if _, err := url.ParseRequestURI(raw); err != nil {
		return head{}, anomaly(400, RuleBadRequestLine, "invalid request target", rl)
	}
	if preface {
		return head{passthrough: true}, nil
	}

	var (
		hosts, cls, tes []string
		hostLines       [][]byte
		clLine, teLine  []byte
	)
	for _, line := range ls[1:] {
		if line[0] == ' ' || line[0] == '\t' {
			return head{}, hdrAnomaly(400, RuleBadHeader, "obsolete line folding in headers", line)
		}
		if ctl(line, true) {
			return head{}, hdrAnomaly(400, RuleControlChar, "control character in a header", line)
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return head{}, hdrAnomaly(400, RuleBadHeader, "header line without a colon", line)
		}
		name := line[:colon]
		if len(name) == 0 {
			return head{}, hdrAnomaly(400, RuleBadHeader, "empty header name", line)
		}
		if c := name[len(name)-1]; c == ' ' || c == '\t' {
			return head{}, hdrAnomaly(400, RuleBadHeader, "whitespace before the colon of a header", line)
		}
		if !isToken(name) {
			return head{}, hdrAnomaly(400, RuleBadHeader, "invalid character in a header name", line)
		}
		// Only the values read here become strings (most headers are
		// only checked for control characters, above).
		value := bytes.Trim(line[colon+1:], " \t")
		switch {
		case asciiEqualFold(name, "host"):
			hosts = append(hosts, string(value))
			hostLines = append(hostLines, line)
		case asciiEqualFold(name, "content-length"):
			cls = append(cls, string(value))
			if clLine == nil {
				clLine = line
			}
		case asciiEqualFold(name, "transfer-encoding"):
			tes = append(tes, string(value))
			if teLine == nil {
				teLine = line
			}
		case asciiEqualFold(name, "expect"):
			if !bytes.EqualFold(value, []byte("100-continue")) {
				return head{}, hdrAnomaly(http.StatusExpectationFailed, RuleBadHeader, "unsupported expectation", line)
			}
		}
	}

	if len(tes) > 0 && len(cls) > 0 {
		return head{}, hdrAnomaly(400, RuleAmbiguousLength, "both Content-Length and Transfer-Encoding", teLine)
	}
	if len(hosts) > 1 {
		return head{}, hdrAnomaly(400, RuleDuplicateHost, "more than one Host header", hostLines[1])
	}
	if len(hosts) == 0 && minor == 1 && !connect {
		return head{}, anomaly(400, RuleBadHeader, "missing Host header", rl)
	}
	if len(hosts) == 1 && !httpguts.ValidHostHeader(hosts[0]) {
		return head{}, hdrAnomaly(400, RuleBadHeader, "invalid Host header", hostLines[0])
	}
	// Security: an Upgrade header (or CONNECT) is only a request to switch.
	// Until the server answers 101 the stream is HTTP/1 and every later head
	// on the connection is checked like the first; stopping here would let a
	// client switch the checks off with a header the gateway then refuses.
	var h head
	if len(tes) > 0 {
		if minor == 0 {
			return head{}, hdrAnomaly(400, RuleBadTransferEncoding, "Transfer-Encoding in an HTTP/1.0 request", teLine)
		}
		if len(tes) > 1 || !strings.EqualFold(tes[0], "chunked") {
			return head{}, hdrAnomaly(http.StatusNotImplemented, RuleBadTransferEncoding, "unsupported transfer coding", teLine)
		}
		h.chunked = true
	}
	if len(cls) > 0 {
		for _, v := range cls {
			if v != cls[0] {
				return head{}, hdrAnomaly(400, RuleBadContentLength, "several differing Content-Length values", clLine)
			}
		}
		if !digits(cls[0]) {
			return head{}, hdrAnomaly(400, RuleBadContentLength, "invalid Content-Length", clLine)
		}
		n, err := strconv.ParseInt(cls[0], 10, 64)
		if err != nil {
			return head{}, hdrAnomaly(400, RuleBadContentLength, "invalid Content-Length", clLine)
		}
		h.length = n
	}
	return h, nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// asciiEqualFold compares a token (ASCII only) with a lowercase name.
func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
