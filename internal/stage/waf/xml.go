package waf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrXXE is returned by WalkXML for a document that declares a document
// type or entities. APIs have no use for them, and they are how XML
// external entity (XXE) and entity-expansion ("billion laughs") attacks
// work, so such documents are refused before any parser expands them.
var ErrXXE = errors.New("xml document type or entity declaration")

// maxXMLDepth bounds element nesting; deeper documents are refused.
const maxXMLDepth = 256

// WalkXML calls fn for every non-blank text node and every attribute value
// of an XML document with a slash path ("/order/item", "/order/item/@id").
// It refuses DOCTYPE and ENTITY declarations (ErrXXE) and anything
// encoding/xml's strict parser refuses (a wrapped error).
func WalkXML(data []byte, fn func(path, s string)) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.Entity = nil // only the five predefined entities
	var stack []string
	var text strings.Builder
	cur := func() string { return "/" + strings.Join(stack, "/") }
	flush := func() {
		if t := strings.TrimSpace(text.String()); t != "" {
			fn(cur(), t)
		}
		text.Reset()
	}
	sawRoot := false
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			if len(stack) != 0 || !sawRoot {
				return fmt.Errorf("xml: unexpected end of document")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			u := strings.ToUpper(strings.TrimSpace(string(t)))
			if strings.HasPrefix(u, "DOCTYPE") || strings.HasPrefix(u, "ENTITY") || strings.Contains(u, "<!ENTITY") {
				return ErrXXE
			}
		case xml.StartElement:
			if sawRoot && len(stack) == 0 {
				return fmt.Errorf("xml: more than one root element")
			}
			sawRoot = true
			flush()
			stack = append(stack, qname(t.Name))
			if len(stack) > maxXMLDepth {
				return fmt.Errorf("xml: nested deeper than %d", maxXMLDepth)
			}
			for _, a := range t.Attr {
				if a.Value != "" {
					fn(cur()+"/@"+qname(a.Name), a.Value)
				}
			}
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1] != qname(t.Name) {
				return fmt.Errorf("xml: mismatched end element")
			}
			flush()
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) != 0 {
					return fmt.Errorf("xml: text outside the root element")
				}
				continue
			}
			text.Write(t)
		}
	}
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}
