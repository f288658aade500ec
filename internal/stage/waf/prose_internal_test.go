package waf

import (
	"encoding/json"
	"testing"
)

// TestProseShapes: list markers, optional plurals, names like C++ and the
// punctuation of other scripts are how ordinary documents write (the sentences below are from licence texts
// nobody here wrote, which the CRS blocked when prose refused them); a
// call, a marker glued to a word and an injection's closing parenthesis
// are still refused, and the attack shapes the CRS no longer sees are
// blocked by the built-in detectors.
func TestProseShapes(t *testing.T) {
	for _, v := range []string{
		"The laws of most jurisdictions automatically confer exclusive Copyright and Related Rights (defined below) upon the creator and subsequent owner(s) (each and all, an owner).",
		"b) Use a suitable shared library mechanism for linking with the Library.",
		"c) Prohibiting misrepresentation of the origin of that material; or",
		"Please check the box(es) that apply: 1) the date 2) the time",
		"a) one\nb) two\niv) four",
		"这是一个简单的程序，可以帮助您管理文件（包括图片和视频）。它支持多种格式、插件(PNG)等等。",
		"「設定」を開いて、言語を選んでください。",
		"Sa syntaxe s'inspire de la commande «\u00a0dialog\u00a0» (qui affiche du texte).",
		"„Xye“ ist ein Denkspiel, ¿verdad? ¡Sí! यह एक खेल है। هل هذا صحيح؟",
		"محیطی ساده برای ویرایش، حروف\u200cچینی، و پیش\u200cنمایش مستندات",
		"It teaches C++ and Java-like languages; C# and F# developers use Notepad++, GTK+ or C/C++.",
		"an adaptive GTK / libhandy application (finite elements, ...), and more...",
	} {
		if !prose(v) {
			t.Errorf("prose(%q) = false", v)
		}
	}
	for _, v := range []string{
		"f(x) is a call", "sleep(5)", "exec(cmd)", "box(es)x", "ab(s)", "order) by 1", "a)b", "x)) or", "1)--",
		"word) stray", "a)", "owner(s)(1)", "sleep（5）", "＜script＞", "a＝b", "x «y» z=1",
		"a+b", "x+++ y", "1# x", "a#b", "+x", "c+++", "++ x", "exec#\n (blah)", "exec# x", "System# x", "C##", "a ../b", "a /etc", "x /", "a.. b",
	} {
		if prose(v) {
			t.Errorf("prose(%q) = true", v)
		}
	}
	s := sharedStage(t)
	// Refused as prose, Chinese text went to the CRS, whose decoding of
	// it is bytes its SQL rules block (942100).
	for _, v := range []string{
		"这是一个简单的程序，可以帮助您管理文件（包括图片和视频）。",
		"它是一个小型的基于 GTK 的程序，用于浏览化学元素周期表，并且可以查看每种元素的详细信息。",
		"这个工具可以帮助系统管理员选择哪些程序需要设置默认命令。",
	} {
		b, _ := json.Marshal(map[string]string{"note": v})
		if verdict, err := s.Inspect(exchange(jsonRequest(string(b)))); err != nil || verdict.Blocked {
			t.Errorf("%q in a JSON note: blocked %v (%v), %v", v, verdict.Blocked, verdict.Rules, err)
		}
	}
	for _, v := range []string{"1) union select password from users", "a) union all select null, null from dual"} {
		b, _ := json.Marshal(map[string]string{"note": v})
		x := exchange(jsonRequest(string(b)))
		if verdict, err := s.Inspect(x); err != nil || !verdict.Blocked {
			t.Errorf("%q in a JSON note: blocked %v, %v", v, verdict.Blocked, err)
		}
	}
}

// TestKeywordProse: libinjection reads sentences of SQL words as
// injections (Debian descriptions nobody here wrote: "Find and load
// configuration from different locations" is n&knk); without a string,
// number, variable, comment, union or ';' no such sentence leaves its
// place in a query. What has one of them is still blocked.
func TestKeywordProse(t *testing.T) {
	s := sharedStage(t)
	for _, tt := range []struct {
		v       string
		blocked bool
	}{
		{"Find and load configuration from different locations", false},
		{"sound set for use with the OpenTTD game", false},
		{"ALSA Use Case Manager configuration files", false},
		{"shell-like (systems) programming in Haskell", false},
		{"1 union select password from users", true},
		{"x union select password from users", true},
		{"admin' or 1=1", true},
		{"1 and sleep(5)", true},
		{"x; drop table users", true},
	} {
		b, _ := json.Marshal(map[string]string{"note": tt.v})
		verdict, err := s.Inspect(exchange(jsonRequest(string(b))))
		if err != nil || verdict.Blocked != tt.blocked {
			t.Errorf("%q in a JSON note: blocked %v (%v), want %v; %v", tt.v, verdict.Blocked, verdict.Rules, tt.blocked, err)
		}
	}
}

// TestRichText: the formatting tags of rich text with no attribute read as
// the spaces they stand for. Wrapped in <p> (as AppStream's descriptions,
// which nobody here wrote, are), prose went to the CRS, which blocked one
// English description in thirty on its command words (932230, 932250);
// so do a class, a link to a web page, an image of one (CRS 941160 reads
// every src as HTML injection) and a style of plain declarations (which
// libinjection, and so CRS 941100, read as XSS). A tag that can
// carry script, an attribute that can, a URL of another scheme, CSS that
// calls or binds, and an attack inside a tag are still refused or
// blocked.
func TestRichText(t *testing.T) {
	for _, v := range []string{
		"<p>Play the highly addictive 2048 game.</p>\n<ul>\n<li>keyboard buttons</li>\n<li>mouse buttons and moves</li>\n</ul>",
		"<P>Upper-case <B>tags</B> too.<BR /></P>",
		"Line one<br>line two<br/>line three (see <em>notes</em>).",
		"<h2>Features</h2><ol><li>Fast; reliable.</li></ol>",
		"It supports <code>TeX</code>, <strong>LaTeX</strong> and <i>ConTeXt</i>.",
		"<p>这是一个简单的程序，可以帮助您管理文件。</p>",
		"See <a href=\"https://example.org/docs?id=2&amp;x=1#top\" target=\"_blank\" rel=\"noopener noreferrer\">the docs</a>.",
		"<pre><code class=\"language-go\">Build it first.</code></pre> <a href=\"#install\">Install</a>, <a href=\"mailto:help@example.org\">mail</a>",
		"<figure><img src=\"https://cdn.example.org/mug.png\" alt=\"A blue mug\" width=\"300\" height=\"200\" /><figcaption>Our mug</figcaption></figure>",
		"<table><tr><td colspan=\"2\" title=\"Totals\">Total</td></tr></table><ol start=\"3\"><li>three</li></ol>",
		"<table border=\"1\" style=\"border-collapse: collapse; width: 100%;\"><tbody><tr><th scope=\"col\">Size</th><td align=\"center\">M</td></tr></tbody></table>",
		"<p style=\"text-align: center;\">Centred, <span style=\"color: #e03e2d; font-weight: bold !important;\">red</span> and <span style=\"color: hsl(0, 75%, 60%);\">pink</span>.</p>",
	} {
		if !prose(v) {
			t.Errorf("prose(%q) = false", v)
		}
	}
	for _, v := range []string{
		"<p onclick=alert(1)>x</p>", "<script>alert(1)</script>", "<b/onload=alert(1)>", "<img src=x>",
		"<a href=\"javascript:alert(1)\">x</a>", "<svg><p>x</p></svg>", "<p", "<p >x</p>", "<<p>>", "<p>x</p/>",
		"<style>p{}</style>", "<p>\nid\n</p>", "<iframe>", "<p>x</p>=1", "<h7>x</h7>", "<li>-rf</li>",
		"<a href=\"//evil.example\">x</a>", "<a href=\"../../etc/passwd\">x</a>", "<a href=\"https://x.org/a'b\">x</a>",
		"<a href=\"data:text/html,x\">x</a>", "<p class=\"\">x</p>", "<p class=\"x\" onclick=\"y\">x</p>",
		"<img src=\"https://x.org/a.png\" onerror=\"alert(1)\">", "<img src=\"javascript:alert(1)\">", "<img src=\"data:image/svg+xml,x\">",
		"<img alt=\"x\" src=\"//evil.example/a.png\">", "<img src=\"mailto:a@b.c\">", "<img src=\"a.png\" alt=\"x' or '1'='1\">", "<p width=\"1e9\">x</p>", "<p align=\"middle\">x</p>", "<td scope=\"x\">x</td>", "<li data-list=\"bullet\">x</li>",
		"<p target=\"_blank\">x</p>", "<a href=\"https://x.org/(a)\">x</a>", "<p class='x'>x</p>",
		"<p style=\"background:url(javascript:alert(1))\">x</p>", "<p style=\"width:expression(alert(1))\">x</p>", "<p style=\"behavior: url-x\">x</p>",
		"<div style=\"-moz-binding: x\">x</div>", "<p style=\"width: calc(1px)\">x</p>", "<p style=\"color:red\" onmouseover=\"alert(1)\">x</p>",
	} {
		if prose(v) {
			t.Errorf("prose(%q) = true", v)
		}
	}
	s := sharedStage(t)
	for _, v := range []string{
		"<p>It displays the time in various places, with the date and the abbreviated code used to name them.</p>",
		"<p>यह डेस्कटॉप के लिए एक साधारण टर्मिनल इमुलेटर है ।</p>",                                           // 942100 on Coraza's low-byte reading
		"<p style=\"text-align: center;\">Centred, and <span style=\"color: #e03e2d;\">red</span>.</p>",      // libinjection's XSS
		"<p>Our new mug: <img src=\"https://cdn.example.org/mug.png\" alt=\"A blue mug\" width=\"300\"></p>", // 941160 on any src
		"<p>Sizes: <img src=\"/img/s.png\" alt=\"\"> S=36, M=38 {approx.}</p>",                               // not prose: 941160 without the image
	} {
		b, _ := json.Marshal(map[string]string{"description": v})
		if verdict, err := s.Inspect(exchange(jsonRequest(string(b)))); err != nil || verdict.Blocked {
			t.Errorf("%q in a JSON description: blocked %v (%v), %v", v, verdict.Blocked, verdict.Rules, err)
		}
	}
	for _, v := range []string{
		"<p>1 union select password from users</p>", "<li>x' or '1'='1</li>", "<p><script>alert(1)</script></p>",
		"<p style=\"background:url(javascript:alert(1))\">x</p>", "<span style=\"color:red\" onmouseover=\"alert(1)\">x</span>",
		"<p style=\"width:expression(alert(1))\">x</p>",
		"<p>x=1 <img src=\"https://cdn.example.org/a.png\" onerror=\"alert(1)\"></p>", "<p>x=1</p><iframe src=\"https://evil.example\"></iframe>",
		"<p>; cat /etc/passwd</p>", "<em>../../../../etc/shadow</em>",
	} {
		b, _ := json.Marshal(map[string]string{"description": v})
		if verdict, err := s.Inspect(exchange(jsonRequest(string(b)))); err != nil || !verdict.Blocked {
			t.Errorf("%q in a JSON description: blocked %v, %v", v, verdict.Blocked, err)
		}
	}
}
