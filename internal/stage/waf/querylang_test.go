package waf

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// TestGraphQLDocuments holds the GraphQL reader to the grammar: executable
// documents give their string literals (decoded, descriptions included),
// and what only looks like a document is no document, so it is inspected
// whole.
func TestGraphQLDocuments(t *testing.T) {
	docs := []struct {
		doc  string
		lits []string
	}{
		{`{ me { id name } }`, []string{}},
		{`query Q($id: ID! = "u1", $n: [Int!]) @live { user(id: $id) { ...F friends(first: 10, after: "YXJyYXk=") @include(if: true) { edges { node { name } } } } }
fragment F on User { id }`, []string{"u1", "YXJyYXk="}},
		{`mutation { addReview(episode: JEDI, review: {stars: 5, commentary: "Great \"film\"\n\u00e9 \u{1F600}", tags: ["a", "b"]}) { stars } }`, []string{"Great \"film\"\né 😀", "a", "b"}},
		{`{ search(text: """a "quoted" block
second line \""" end""") { ... on Human { name } ... @skip(if: false) { id } } }`, []string{"a \"quoted\" block\nsecond line \"\"\" end"}},
		{"# a comment\n\"Fetches the viewer\"\nquery V(\"the size\" $s: Int) { viewer { pic(size: $s, scale: -1.5e3) } }", []string{"Fetches the viewer", "the size"}},
	}
	for _, c := range docs {
		lits, ok := graphQLStrings(c.doc)
		if !ok {
			t.Errorf("%q: not read as a GraphQL document", c.doc)
			continue
		}
		if !reflect.DeepEqual(lits, c.lits) {
			t.Errorf("%q: literals %q, want %q", c.doc, lits, c.lits)
		}
	}
	for _, v := range []string{
		"{{7*7}}", "{alert(1)}", "{ a(1) }", `{ a(b: "x" }`, "{ a ", "{ }", "query", "query { }",
		`{"query": "x"}`, `{ a(b: 01) }`, `{ a(b: 1x) }`, `{ a(b: "x
") }`, `{ a(b: "\q") }`, "{ a } union select 1", "' or 1=1 -- {", "{ a(b: $c) } }",
		"fragment on on T { a }", "query Q($a: Int = $b) { a }", "{ a(b: .5) }", "{ a @ }",
		strings.Repeat("{ a ", 100) + strings.Repeat("}", 100),
	} {
		if lits, ok := graphQLStrings(v); ok {
			t.Errorf("%q read as a GraphQL document (literals %q)", v, lits)
		}
	}
}

// TestODataExpressions holds the OData reader: expressions give their
// literals (” is a quote), anything outside the grammar is refused.
func TestODataExpressions(t *testing.T) {
	for _, c := range []struct {
		v    string
		lits []string
	}{
		{"Price gt 5.00 and contains(Name,'O''Brien')", []string{"O'Brien"}},
		{"Products/any(p:p/Sales/aggregate(Amount with sum) gt 10)", []string{}},
		{`@c={"Names":["Fred","George"]}`, []string{"Names", "Fred", "George"}},
		{"ReleaseDate ge 2012-12-03T07:16:23Z and Id eq 01234567-89ab-cdef-0123-456789abcdef", []string{}},
		{"Price/@Currency#Reporting eq 'EUR'", []string{"EUR"}},
		{"Address/*,Addresses/*($levels=max)", []string{}},
		{"groupby((Region),aggregate(Sales with sum from Time with average as Avg))", []string{}},
	} {
		lits, ok := odataStrings(c.v)
		if !ok || !reflect.DeepEqual(lits, c.lits) {
			t.Errorf("%q: %q %v, want %q", c.v, lits, ok, c.lits)
		}
	}
	for _, v := range []string{
		"Name eq 'x", "1 union select password from users", "Name eq 1 -- x", "a) or (b", "x /* y */",
		"<script>alert(1)</script>", "Name eq 1; drop table users", "sleep(5)", "a # b", "Name eq `id`",
	} {
		if lits, ok := odataStrings(v); ok {
			t.Errorf("%q read as an OData expression (literals %q)", v, lits)
		}
	}
}

// TestQueryLanguagesThroughTheStage: GraphQL queries and OData options
// pass; an attack in a literal is found and located, and so is one that
// breaks out of the grammar; names that are no OData option are names.
func TestQueryLanguagesThroughTheStage(t *testing.T) {
	s := sharedStage(t)
	gql := func(doc string) *http.Request {
		b, _ := json.Marshal(map[string]any{"query": doc, "variables": map[string]any{"id": "1"}})
		r := httptest.NewRequest("POST", "/graphql", strings.NewReader(string(b)))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	batch := func(docs ...string) *http.Request {
		var ops []map[string]string
		for _, d := range docs {
			ops = append(ops, map[string]string{"query": d})
		}
		b, _ := json.Marshal(ops)
		r := httptest.NewRequest("POST", "/graphql", strings.NewReader(string(b)))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	raw := func(ct, body string) *http.Request {
		r := httptest.NewRequest("POST", "/graphql", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		return r
	}
	get := func(target string) *http.Request { return httptest.NewRequest("GET", target, nil) }
	q := url.QueryEscape
	cases := []struct {
		name  string
		r     *http.Request
		block bool
		loc   string
	}{
		{"graphql user()", gql(`query GetUser($id: ID!) { user(id: $id) { id name friends(first: 5) { edges { node { name } } } } }`), false, ""},
		{"graphql schema() in GET", get("/graphql?query=" + q(`{ schema(name: "public") { database(id: 4) { name } } }`)), false, ""},
		{"graphql sqli literal", gql(`{ user(name: "x' UNION SELECT password FROM users--") { id } }`), true, "body:/query"},
		{"graphql xss literal", gql(`mutation { post(body: "<img src=x onerror=alert(1)>") { id } }`), true, "body:/query"},
		{"graphql cmdi block string", gql("{ ping(host: \"\"\"127.0.0.1; cat /etc/passwd\"\"\") { ok } }"), true, "body:/query"},
		{"graphql batch", batch(`{ a: user(id: "1") { name } }`, `{ b: user(id: "2") { name } }`), false, ""},
		{"graphql body", raw("application/graphql", `{ user(id: "1") { name schema(x: 1) { id } } }`), false, ""},
		{"graphql elsewhere", raw("application/json", `{"note": "{\nid\n}", "q": "{ user(id: \"1\") { name } }"}`), true, ""},
		{"graphql broken by sql", gql(`{ user(id: "1") { name } } union select password from users`), true, "body:/query"},
		{"odata options", get("/odata/Products?$filter=" + q("Price gt 20 and Category eq 'Beverages'") + "&$select=Name,Price&$orderby=" + q("Price desc") + "&$top=10&$count=true&$expand=Supplier"), false, ""},
		{"odata search", get("/odata/Products?$search=" + q("blue OR (green AND NOT red)")), false, ""},
		{"odata path", get("/odata/Products/$count?$filter=" + q("Price lt 5")), false, ""},
		{"odata sqli literal", get("/odata/Products?$filter=" + q("Name eq 'x'' or 1=1--'")), true, "query:$filter"},
		{"odata sql words", get("/odata/Products?$filter=" + q("1 union select password from users")), true, "query:$filter"},
		{"odata xss search", get("/odata/Products?$search=" + q("<script>alert(1)</script>")), true, "query:$search"},
		{"mongo $where", get("/api/users?$where=" + q("sleep(5000)")), true, ""},
		{"mongo operator name", get("/api/users?username[$ne]=x&password[$ne]=x"), true, ""},
	}
	for _, c := range cases {
		c.r.Host = "api.example.com"
		c.r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
		v, err := s.Inspect(exchange(c.r))
		if err != nil {
			t.Fatal(err)
		}
		if v.Blocked != c.block {
			t.Errorf("%s: blocked %v (rules %v at %s), want %v", c.name, v.Blocked, v.Rules, v.Location, c.block)
		}
		if c.block && c.loc != "" && v.Location != c.loc {
			t.Errorf("%s: located at %q, want %q", c.name, v.Location, c.loc)
		}
	}
}

// TestDataURIs: an image sent as a data: URI passes (the CRS reads every
// data: value as a script source or a PHP stream, and ";base64," as a
// command); a script type, a payload under an image label and a polyglot
// do not.
func TestDataURIs(t *testing.T) {
	png := "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		uri            string
		passive, block bool
	}{
		{"data:image/png;base64," + b64(png), true, false},
		{"data:image/jpeg;base64," + b64("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01"), true, false},
		{"data:application/pdf;base64," + b64("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), true, false},
		{"data:image/png;base64," + b64("<?php system($_GET['c']); ?>"), false, true},
		{"data:image/png;base64," + b64(png+"<?php system($_GET['c']); ?>"), false, true},
		{"data:text/html;base64," + b64("<script>alert(1)</script>"), false, true},
		{"data:image/svg+xml;base64," + b64("<svg onload=alert(1)>"), false, true},
		{"data:;base64," + b64("<?php phpinfo(); ?>"), false, true},
		{"data:text/html,<script>alert(1)</script>", false, true},
	}
	s := sharedStage(t)
	for _, c := range cases {
		if got := passiveDataURI(c.uri); got != c.passive {
			t.Errorf("PassiveDataURI(%.60q) = %v, want %v", c.uri, got, c.passive)
		}
		b, _ := json.Marshal(map[string]string{"avatar": c.uri})
		r := httptest.NewRequest("POST", "/api/profile", strings.NewReader(string(b)))
		r.Header.Set("Content-Type", "application/json")
		v, err := s.Inspect(exchange(r))
		if err != nil {
			t.Fatal(err)
		}
		if v.Blocked != c.block {
			t.Errorf("%.60q: blocked %v (rules %v), want %v", c.uri, v.Blocked, v.Rules, c.block)
		}
	}
}

// FuzzQueryLanguages: the readers end on any input, and what they return
// comes from the input (a literal is never longer than the value).
func FuzzQueryLanguages(f *testing.F) {
	for _, s := range []string{`{ a(b: "c", d: [1, {e: "f"}]) @g(h: $i) { ...j ... on K { l } } }`, `query Q($a: [Int!]! = [1]) { a }`,
		`"""d""" fragment F on T { a }`, "Name eq 'O''Brien' and contains(x,'y')", `@c={"a":["b"]}`, "$filter(@f)", `{ a(b: "\u{10FFFF}\u00e9") }`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, read := range []func(string) ([]string, bool){graphQLStrings, odataStrings} {
			lits, ok := read(v)
			if !ok && lits != nil && len(lits) > 0 {
				t.Fatalf("%q: refused but returned %q", v, lits)
			}
			total := 0
			for _, l := range lits {
				total += len(l)
			}
			if total > len(v)*2 {
				t.Fatalf("%q: literals %q longer than the value", v, lits)
			}
		}
		passiveDataURI(v)
	})
}
