package waf

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestShellWordGlued: a command name glued to more word characters is no
// command for the shell (";base64,", an assignment after ';'); the
// injections beside them still are.
func TestShellWordGlued(t *testing.T) {
	checkBlocks(t, sharedStage(t), []string{"query"}, []blockCase{
		{"lang=en;time=5;path=/", false},
		{"data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", false},
		{"a;id", true},
		{";{cat,/etc/passwd}", true},
		{"x;base64 -d /etc/shadow", true},
		{"x; time=5 id", false},
		{"x;id>/tmp/o", true},
	})
}

// TestUnsetVariableEvasion: a variable nobody set, glued into a command
// or a path, expands to nothing ("cat$xy $xy/etc$xy/passwd" runs cat
// /etc/passwd: the WAF evasion OWASP ZAP's command injection rule sends);
// a comment after a blind probe's number ("|sleep 5#") ends the command.
// Prose with a dollar amount or a variable's name passes.
func TestUnsetVariableEvasion(t *testing.T) {
	checkBlocks(t, sharedStage(t), []string{"query", "json"}, []blockCase{
		{";cat$xy $xy/etc$xy/passwd;", true},
		{"&&cat$ab $ab/etc$ab/passwd", true},
		{"|sleep$q 5#", true},
		{"`sleep$a 5`", true},
		{";c${x}at /etc/passwd", true},
		{"a|sleep 5#", true},
		{"costs $5; more later", false},
		{"set HOME_DIR$suffix in the form", false},
		{"Total: US$25, paid", false},
	})
}

// blockCase is a value and whether the stage must block it.
type blockCase struct {
	v     string
	block bool
}

// checkBlocks sends each case's value in each place (see
// corpusRequestInternal) and checks the stage's verdict.
func checkBlocks(t *testing.T, s *Stage, places []string, cases []blockCase) {
	t.Helper()
	for _, c := range cases {
		for _, place := range places {
			r := corpusRequestInternal(place, c.v)
			v, err := s.Inspect(exchange(r))
			if err != nil {
				t.Fatal(err)
			}
			if v.Blocked != c.block {
				t.Errorf("%s %q: blocked %v (rules %v), want %v", place, c.v, v.Blocked, v.Rules, c.block)
			}
		}
	}
}

// corpusRequestInternal is a query value or a JSON member holding v.
func corpusRequestInternal(place, v string) *http.Request {
	if place == "query" {
		return httptest.NewRequest("GET", "/api/items?q="+url.QueryEscape(v), nil)
	}
	b, _ := json.Marshal(map[string]string{"note": v})
	r := httptest.NewRequest("POST", "/api/items", strings.NewReader(string(b)))
	r.Header.Set("Content-Type", "application/json")
	return r
}
