package waf

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/corazawaf/libinjection-go"
)

// TestClassesWaf5 sends each class fixed on branch waf5 through the whole
// stage, as a JSON field and as a query value: an attack of the class that
// must be blocked beside a benign neighbour that must pass.
func TestClassesWaf5(t *testing.T) {
	s := sharedStage(t)
	cases := []struct {
		name  string
		v     string
		block bool
	}{
		// NoSQL operator keys with a stand-in for '$'.
		{"operator key behind '&'", `{"&exists":false}`, true},
		{"operator key behind '#'", `{'#ne': 1}`, true},
		{"plain key named like an operator", `{"exists": false, "in": "stock"}`, false},
		{"json-ld key", `{"@type": "Person", "name": "Ann"}`, false},
		// Markdown: a variable named in a code span is a file name template;
		// a command substituted in one is not.
		{"plain expansion in a code span", "For each OS, there is a hand-written Go file at `${GOOS}/types.go` (or\n`types_${GOOS}.go` on the old system). This file includes standard C headers.", false},
		{"command substitution in a code span", "For each OS, there is a hand-written Go file at `$(id)/types.go` (or\n`types_${GOOS}.go` on the old system). This file includes standard C headers.", true},
		{"IFS in a code span", "For each OS, there is a hand-written Go file at `cat${IFS}/etc/passwd` (or\n`types_${GOOS}.go` on the old system). This file includes standard C headers.", true},
		// A prefix command runs the rest of its own line only.
		{"flags in code spans of a Markdown list", "* `-gcflags` by default applies to the packages named on the command line, but can\n  use package patterns such as `-gcflags='all=-m=1 -l'`, or multiple patterns. For details, see the\n  [cmd/go documentation](https://pkg.go.dev/cmd/go#hdr-Compile_packages).", false},
		{"prefix command on its line", "time ls -la /tmp\nand then some more words of text", true},
		// System paths and URLs named in sentences, not given as values.
		{"system paths in prose", "The runtime annotates anonymous memory mappings with context about their\npurpose. These annotations appear in /proc/self/maps and /proc/self/smaps as\n\"[anon: Go: ...]\". This setting is only used on Linux.", false},
		{"system path read by a command", "please run this for me\n; cat /proc/self/environ", true},
		{"localhost URL in a sentence", "Then open http://localhost:6060/doc/next. Refresh the page to see your latest edits.", false},
		{"localhost URL as the value", "http://localhost:6060/admin/delete", true},
		// Source code: names and data of the program.
		{"go table of quoted characters", "'9':      true,\n\t':':      true,\n\t';':      true,\n\t'<':      false,\n\t'=':      true,", false},
		{"injection padded with lines of code", "'9':      true,\n\t':':      true,\n\t' or 1=1 --", true},
		{"go tag strings", "htmlSig(\"<TABLE\"),\n\thtmlSig(\"<A\"),\n\thtmlSig(\"<STYLE\"),\n\thtmlSig(\"<TITLE\"),", false},
		{"script padded with lines of code", "htmlSig(\"<TABLE\"),\n\thtmlSig(\"<A\"),\n\t<script>alert(1)</script>,", true},
		// Inline style sheets of plain declarations.
		{"plain style sheet", "<style>\n  main ul li { margin: 0.5em 0; }\n</style>", false},
		{"style sheet that imports", "<style>@import 'http://evil.example/x.css';</style>", true},
		{"style sheet that binds script", "<style>\n li { behavior: url(x.htc) }\n</style>", true},
		{"script after a plain style sheet", "<style>li { margin: 0 }</style><script>alert(1)</script>", true},
		// Build notes: go before a subcommand; $names that begin like operators.
		{"go build with an environment assignment", `GOSSAFUNC="$FunctionName:$PassName1,$PassName2,..." go build`, false},
		{"mongodb function operator", `{"$function": {"body": "function() { return 1 }"}}`, true},
	}
	for _, c := range refinedShapes() {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, c := range cases {
		b, _ := json.Marshal(map[string]string{"note": c.v})
		for _, r := range []*httptestRequest{
			{"json", jsonRequest(string(b))},
			{"query", httptest.NewRequest("GET", "/items?q="+url.QueryEscape(c.v), nil)},
		} {
			if strings.Contains(c.name, "(json only)") && r.place != "json" {
				continue
			}
			v, err := s.Inspect(exchange(r.r))
			if err != nil {
				t.Fatal(err)
			}
			if v.Blocked != c.block {
				t.Errorf("%s in %s: %q blocked %v (rules %v), want %v", c.name, r.place, c.v, v.Blocked, v.Rules, c.block)
			}
		}
	}
}

type httptestRequest struct {
	place string
	r     *http.Request
}

// refinedShapes are the refiners' own answers on a class and its
// neighbour, where the whole stage would block both for other reasons.
func refinedShapes() []struct {
	name      string
	got, want bool
} {
	sqli := func(v string) bool {
		ok, fp := libinjection.IsSQLi(v)
		return ok && !weakSQLi(v, fp) && !goCommand(v, fp)
	}
	return []struct {
		name      string
		got, want bool
	}{
		{"go build is no T-SQL batch", sqli(`GOSSAFUNC="blah.Foo:sccp,generic deadcode" go build`), false},
		{"T-SQL after go stays sqli", sqli(`a" go drop table x`), true},
		{"Go the language", sqli(`pure Go embedded SQL database`), false},
		{"Go before a parenthesis", sqli(`idiomatic Go (golang) validation package.`), false},
		{"GO on a line of its own stays sqli", sqli("1'; DROP TABLE users\nGO\n--"), true},
		{"name that begins like $function", mongoOperator942290.MatchString(`"$FunctionName:x"`), false},
		{"$function operator", mongoOperator942290.MatchString(`{"$function": 1}`), true},
		{"bracketed operator", mongoOperator942290.MatchString(`user[$ne]=1`), true},
		{"quoted bracket of words", sqlJSON.MatchString(blanks.Replace(`as "[anon: Go: ...]". This`)), false},
		{"quoted json array", sqlJSON.MatchString(blanks.Replace(`' or '[1,2]'`)), true},
		{"quoted empty object", sqlJSON.MatchString(`'{}'`), true},
		{"code block", codeText("func f() {\n\treturn nil\n}"), true},
		{"prose of three lines", codeText("one line\ntwo lines\nthree lines"), false},
		{"url in a sentence", inSentence("Then open http://localhost:6060/doc/next. Refresh it.", ssrfPhrases(), false), true},
		{"url after a separator", inSentence("go and fetch it; http://localhost:6060/doc/next. Refresh it.", ssrfPhrases(), false), false},
	}
}
