package scan

import (
	"bytes"
	"strings"

	"golang.org/x/net/html"
)

// xssContext decides where the reflected probe (xssMarker followed by a
// double and a single quote) landed in an HTML document, as a browser's
// tokenizer reads it, and whether that place runs it:
//
//   - a real <pcx9k> start tag in the document: markup injection, the page
//     takes any tag the input brings (an <img onerror>, a <script>);
//   - inside an attribute value with its quotes unescaped: the value can be
//     closed and an event handler added;
//   - inside a <script> with the quotes unescaped: the string can be closed
//     and code added.
//
// Text that a browser shows but never parses as markup is not a finding:
// the content of <title>, <textarea>, <style>, <xmp>, <noscript>… (raw
// text and RCDATA elements, which the tokenizer hands over as text) and
// comments.
func xssContext(body []byte) (string, bool) {
	marker := strings.Trim(xssMarker, "<>")
	quotes := []byte(xssMarker + `"'`)
	z := html.NewTokenizer(bytes.NewReader(body))
	inScript := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			return "", false
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			if t.Data == marker {
				return "the tag became an element of the page", true
			}
			for _, a := range t.Attr {
				if strings.Contains(a.Key, marker) {
					return "the input added an attribute to <" + t.Data + ">", true
				}
				if strings.Contains(a.Val, xssMarker) && bytes.Contains(body, quotes) {
					return "inside the " + a.Key + " attribute of <" + t.Data + ">, with its quotes unescaped", true
				}
			}
			inScript = t.Data == "script"
		case html.EndTagToken:
			inScript = false
		case html.TextToken:
			if inScript && bytes.Contains(z.Text(), quotes) {
				return "inside a <script>, with its quotes unescaped", true
			}
		}
	}
}
