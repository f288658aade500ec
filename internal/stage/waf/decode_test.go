package waf

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecoders(t *testing.T) {
	tests := []struct {
		name string
		fn   func(string) (string, bool)
		in   string
		want string
	}{
		{"url", URLDecode, "%3Cscript%3E", "<script>"},
		{"url keeps plus", URLDecode, "a+b%20c", "a+b c"},
		{"url invalid kept", URLDecode, "100%zz", "100%zz"},
		{"url trailing percent", URLDecode, "50%", "50%"},
		{"url iis unicode", URLDecode, "%u003cscript", "<script"},
		{"url fullwidth", URLDecode, "%uff1cscript", "<script"},
		{"html named", HTMLDecode, "&lt;b&gt;", "<b>"},
		{"html numeric", HTMLDecode, "&#60;&#x3c;", "<<"},
		{"js unicode", UnescapeJS, `\u003cscript\u003e`, "<script>"},
		{"js hex", UnescapeJS, `\x3cb`, "<b"},
		{"js braces", UnescapeJS, `\u{3c}b`, "<b"},
		{"js crlf", UnescapeJS, `a\r\nb`, "a\r\nb"},
		{"js lone backslash", UnescapeJS, `a\`, `a\`},
		{"base64", Base64Text, "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "<script>alert(1)</script>"},
		{"base64 url alphabet", Base64Text, "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg", "<script>alert(1)</script>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := tt.fn(tt.in)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBase64TextRejects(t *testing.T) {
	for _, in := range []string{"hello", "password", "abcdefghijkl", "AAECAwQFBgcICQ==" /* binary */, "a b c d e f g h"} {
		t.Run(in, func(t *testing.T) {
			if got, ok := Base64Text(in); ok {
				t.Errorf("got %q, true, want no decoding", got)
			}
		})
	}
}

func TestDecodeLayers(t *testing.T) {
	tests := []struct{ in, want string }{
		{"%253Cscript%253E", "<script>"},
		{"%26lt%3Bscript%26gt%3B", "<script>"},
		{`%5Cu003cscript`, "<script"},
		{"plain", "plain"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got, _ := Decode(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzURLDecode(f *testing.F) {
	for _, s := range []string{"%3C", "%u003c", "%", "%%%", "%2", "a%zz", "%253C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, changed := URLDecode(s)
		if len(d) > len(s) {
			t.Fatalf("decoded %q longer than input %q", d, s)
		}
		if !changed && d != s {
			t.Fatalf("unchanged flag with different output")
		}
	})
}

func FuzzHTMLDecode(f *testing.F) {
	for _, s := range []string{"&lt;", "&#60;", "&#x3c;", "&", "&#;", "&#99999999;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, changed := HTMLDecode(s)
		if !changed && d != s {
			t.Fatalf("unchanged flag with different output")
		}
	})
}

func FuzzUnescapeJS(f *testing.F) {
	for _, s := range []string{`\u003c`, `\x3c`, `\u{1F600}`, `\u{110000}`, `\`, `\u12`, `\r\n`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, changed := UnescapeJS(s)
		if !changed && d != s {
			t.Fatalf("unchanged flag with different output")
		}
		if len(d) > len(s)+3 {
			t.Fatalf("decoded %q much longer than input %q", d, s)
		}
	})
}

func FuzzBase64Text(f *testing.F) {
	for _, s := range []string{"PHNjcmlwdD4=", "aGVsbG8gd29ybGQ", "////", "AAAA", "a-b_c-d_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := Base64Text(s)
		if ok && !utf8.ValidString(d) {
			t.Fatalf("decoded to invalid UTF-8: %q", d)
		}
	})
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"%25253C", "&amp;lt;", `\\u0025`, "PHNjcmlwdD4="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = Decode(s)
		_ = Variants(nil, s, true)
	})
}

func TestWalkJSON(t *testing.T) {
	doc := `{"a":{"b":["x",{"c/d~e":"y"}],"n":1.5e3,"t":true,"z":null},"\u0041":"\ud83d\ude00"}`
	var got []string
	err := WalkJSON([]byte(doc), func(ptr []byte, s string, key bool) {
		k := "v"
		if key {
			k = "k"
		}
		got = append(got, k+" "+string(ptr)+"="+s)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"k /a=a", "k /a/b=b", "v /a/b/0=x", "k /a/b/1/c~1d~0e=c/d~e", "v /a/b/1/c~1d~0e=y",
		"k /a/n=n", "k /a/t=t", "k /a/z=z", "k /A=A", "v /A=😀"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestWalkJSONErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `{"a"}`, `{"a":}`, `[1,]`, `{"a":1,}`, `"abc`, "\"a\x01\"", `"\q"`, "\"\xff\"",
		`{} x`, `[1 2]`, `tru`, `01x`, `-`, `1.`, `{"a":1]`, `[}`, `"\u12"`} {
		t.Run(in, func(t *testing.T) {
			if err := WalkJSON([]byte(in), func([]byte, string, bool) {}); err == nil {
				t.Errorf("got nil error, want an error")
			}
		})
	}
}

func TestWalkJSONDeep(t *testing.T) {
	n := 200000
	doc := strings.Repeat(`{"a":[`, n) + `"x"` + strings.Repeat(`]}`, n)
	count := 0
	if err := WalkJSON([]byte(doc), func(_ []byte, s string, key bool) { count++ }); err != nil {
		t.Fatal(err)
	}
	if count != n+1 {
		t.Errorf("got %d strings, want %d", count, n+1)
	}
}

// FuzzWalkJSON checks that the walker accepts exactly what encoding/json
// accepts, never panics, and yields every string encoding/json sees.
func FuzzWalkJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,"b",{"c":null}]}`, `[]`, `"x"`, `{"\u00e9":"\ud800"}`, `[1e5,-0.5,true]`, `{"a":"\xff"}`, `[[[[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		err := WalkJSON(b, func(_ []byte, s string, _ bool) { n++ })
		valid := json.Valid(b) && utf8.Valid(b)
		if valid != (err == nil) {
			t.Fatalf("json.Valid=%v but WalkJSON error=%v for %q", valid, err, b)
		}
	})
}

func FuzzWalkXML(f *testing.F) {
	for _, s := range []string{`<a x="1">t<b>u</b></a>`, `<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>`, `<a>`, `<a></b>`, `<?xml version="1.0"?><a/>`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = WalkXML(b, func(string, string) {})
	})
}

func TestWalkXML(t *testing.T) {
	var got []string
	err := WalkXML([]byte(`<?xml version="1.0"?><order id="7"><item>a &amp; b</item><note> </note></order>`), func(p, s string) {
		got = append(got, p+"="+s)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "/order/@id=7,/order/item=a & b"
	if strings.Join(got, ",") != want {
		t.Errorf("got %q, want %q", strings.Join(got, ","), want)
	}
	for _, doc := range []string{`<!DOCTYPE a [<!ENTITY b SYSTEM "file:///etc/passwd">]><a>&b;</a>`, `<!doctype a><a/>`} {
		if err := WalkXML([]byte(doc), func(string, string) {}); err != ErrXXE {
			t.Errorf("got %v, want ErrXXE for %q", err, doc)
		}
	}
	for _, doc := range []string{`<a>`, `<a></b>`, `<a/><b/>`, `text`, `<a>&unknown;</a>`} {
		if err := WalkXML([]byte(doc), func(string, string) {}); err == nil || err == ErrXXE {
			t.Errorf("got %v, want a parse error for %q", err, doc)
		}
	}
}

func TestOverlong(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"..\xc0\xaf..\xc0\xafetc", "../../etc"},
		{"\xc0\xae\xc0\xae\xc1\x9cwin.ini", `..\win.ini`},
		{"..∕..∕etc∕passwd", "../../etc/passwd"},
		{"..∖..∖boot.ini", `..\..\boot.ini`},
		{"plain text", "plain text"},
	} {
		if got, _ := Overlong(tt.in); got != tt.want {
			t.Errorf("Overlong(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
