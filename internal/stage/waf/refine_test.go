package waf

import (
	"testing"

	"github.com/corazawaf/libinjection-go"
)

// TestRefinersAndProbes checks each issue 17 benign-text refinement and
// probe shape on a case it must pass and one it must keep.
func TestRefinersAndProbes(t *testing.T) {
	sqli := func(v string) bool {
		ok, fp := libinjection.IsSQLi(v)
		return ok && !weakSQLi(v, fp)
	}
	cases := []struct {
		name string
		got  bool
		want bool
	}{
		{"go comment with a quoted dash is not sqli", sqli("// a JSON tag of \"-\".\n// Map values encode as JSON objects."), false},
		{"one-line quote probe stays sqli", sqli("1' or '1'='1"), true},
		{"multi-line tautology stays sqli", sqli("1' or '1'='1\nx"), true},
		{"multi-line union stays sqli", sqli("1 union select 1\nx"), true},
		{"trailing line break is not text", lines("\"!\"\n"), false},
		{"two lines are text", lines("a\nb"), true},
		{"closed comment of notes", openComment("<!---\nTODO: more tips\n-->"), false},
		{"unclosed comment", openComment("x<!-- rest of page"), true},
		{"comment with markup", openComment("<!--<img src=x onerror=alert(1)>-->"), true},
		{"ssi directive", openComment(`<!--#exec cmd="id"-->`), true},
		{"esi comment", openComment("<!--esi <esi:include src=x/> -->"), true},
		{"php function before a sentence", phpCall("add in the file (if it is not already there)", false), false},
		{"php call with a string", phpCall("file ('/etc/passwd')", false), true},
		{"php call of two constants and an operator", phpCall("exec (a and b)", false), true},
		{"quoted brackets across lines", sqlJSON.MatchString(blanks.Replace("'[':      true,\n\t']':      true,")), false},
		{"quoted json on one line", sqlJSON.MatchString(blanks.Replace(`' or '{"a":1}' @> '{"a":1}'`)), true},
		{"irc log line is no process substitution", shellExpr932130.MatchString(cmdLineSpaced("<knghtbrd> (tinc)")), false},
		{"process substitution", shellExpr932130.MatchString(cmdLineSpaced("x;cat <(id)")), true},
		{"command substitution with quotes inside", shellExpr932130.MatchString(cmdLineSpaced(`$(i"d)`)), true},
		{"ldap meta probe", ldapMeta("*|"), true},
		{"ldap wildcard search term", ldapMeta("admin*"), false},
		{"metacharacter run", metaRun(`<>"'%;)(&+`), true},
		{"emoticon", metaRun(":-) ;-)"), false},
		{"format string run", formatRun("ABCD|%8.8x|%8.8x|%8.8x|%8.8x|"), true},
		{"url-encoded text is no format string", formatRun("7%20pounds%20on%20the%20Sun%20pounds%20pounds"), false},
		{"attribute breakout then a tag", htmlBreakout.MatchString(`">xxx<P>yyy`), true},
		{"markdown html", htmlBreakout.MatchString(`<a href="x">link</a> and <b>bold</b>`), false},
		{"traversal through %25%5c leftovers", traversal(`/%\..%\..%\..winnt/desktop.ini`), true},
		{"traversal through a private-use separator", traversal("..\uf025{FILE}"), true},
		{"one plain step", traversal("see ../README.md"), false},
		{"crlf after IIS nesting", crlfHeader.MatchString("/%\n0aSet-Cookie:crlf=injection"), true},
		{"indented code line", crlfHeader.MatchString("x\n\thost := y"), false},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestDoubleBase64 checks that base64 inside base64 is decoded.
func TestDoubleBase64(t *testing.T) {
	// base64(base64("../../etc/passwd"))
	vs := Variants(nil, "TGk0dkxpNHZaWFJqTDNCaGMzTjNaQT09", false)
	for _, v := range vs {
		if v == "../../etc/passwd" {
			return
		}
	}
	t.Errorf("got %q, want a variant ../../etc/passwd", vs)
}
