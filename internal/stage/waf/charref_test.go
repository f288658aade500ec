package waf

import "testing"

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
