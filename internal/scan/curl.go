package scan

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"
)

// maxCurlBody is the largest body written into a curl line; a larger one
// (the large-body probe's) is described instead.
const maxCurlBody = 4096

// curlLine returns a curl command that sends hr again. Headers that carry
// an identity's credentials become shell variables named after the
// identity and the header, so that reports never hold the credentials and
// a reader who has them can still replay the request.
func (s *scanner) curlLine(hr *http.Request, r *request) string {
	var b strings.Builder
	b.WriteString("curl -sS -i")
	if hr.Method != http.MethodGet {
		b.WriteString(" -X " + hr.Method)
	}
	b.WriteString(" " + shellQuote(hr.URL.String()))
	var creds http.Header
	name := ""
	if r.ident >= 0 && r.ident < len(s.ids) {
		creds = s.ids[r.ident].header()
		name = s.ids[r.ident].name
	}
	keys := make([]string, 0, len(hr.Header))
	for k := range hr.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == "User-Agent" {
			continue
		}
		v := hr.Header.Get(k)
		if cv := creds.Get(k); cv != "" && cv == v {
			fmt.Fprintf(&b, ` -H "%s: $%s"`, k, envName(name, k))
			continue
		}
		b.WriteString(" -H " + shellQuote(k+": "+v))
	}
	body, _, _ := r.encodeBody()
	switch {
	case len(body) > maxCurlBody:
		fmt.Fprintf(&b, " --data-binary @body.bin  # the %d-byte body is not shown", len(body))
	case len(body) > 0:
		b.WriteString(" --data-binary " + shellQuote(string(body)))
	}
	return b.String()
}

// envName is the shell variable of an identity's header: PC_ALICE_AUTHORIZATION.
func envName(identity, header string) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToUpper(r)
		}
		return '_'
	}, identity+"_"+header)
	if !strings.HasPrefix(s, "PC_") {
		s = "PC_" + s
	}
	return s
}

// shellQuote quotes s for a POSIX shell: single quotes, with each single
// quote written as '\”. Control characters are written with $'…' so that
// the line stays one line.
func shellQuote(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		var b strings.Builder
		b.WriteString("$'")
		for _, r := range s {
			switch {
			case r == '\'' || r == '\\':
				b.WriteString(`\` + string(r))
			case r < 0x20 || r == 0x7f:
				fmt.Fprintf(&b, `\x%02x`, r)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteString("'")
		return b.String()
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
