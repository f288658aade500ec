package waf

import (
	"strings"
	"testing"
)

// shellNormalizeByByte is normalizeShell as it was written first, one byte
// at a time: the reference it is held to.
func shellNormalizeByByte(v string) string {
	if !strings.ContainsAny(v, "'\"\\^$") {
		return v
	}
	if strings.ContainsAny(v, "\"\\$") || strings.Contains(v, "''") {
		v = shellReplacer.Replace(v)
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c == '\'' || c == '"' || c == '^') && i > 0 && i+1 < len(v) && isWordByte(v[i-1]) && isWordByte(v[i+1]) {
			continue
		}
		if c == '$' {
			if n := unsetVarLen(v, i); n > 0 {
				i += n - 1
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// checkNormalizeShell holds normalizeShell to the reference, and its seams
// to what seamGates relies on: every Windows or VBScript gate of the
// normalised value is a gate of the value or of a seam's bytes.
func checkNormalizeShell(t *testing.T, v string) {
	t.Helper()
	cs := charsetOf(v)
	n, seams, exact := normalizeShell(v, &cs, nil)
	if want := shellNormalizeByByte(v); n != want {
		t.Fatalf("normalizeShell(%q) = %q, want %q", v, n, want)
	}
	for i := 1; i < len(seams); i++ {
		if seams[i] <= seams[i-1] {
			t.Fatalf("normalizeShell(%q): seams %v not increasing", v, seams)
		}
	}
	if !exact {
		return
	}
	// With only bytes removed, n is v with the bytes at the seams gone.
	if len(seams) > 0 && seams[len(seams)-1] > len(n) {
		t.Fatalf("normalizeShell(%q): seam %d beyond %q", v, seams[len(seams)-1], n)
	}
	const shell = gateWindows | gateVBS
	if got, have := gates(n)&shell, (gates(v)|seamGates(n, seams))&shell; got&^have != 0 {
		t.Fatalf("normalizeShell(%q) = %q: gates %b, of which v and the seams give %b", v, n, got, have)
	}
}

func TestNormalizeShell(t *testing.T) {
	values := []string{
		"", "plain words", "c'a't /etc/passwd", `c\at`, "c^m^d /c whoami", "w'h'o'a'm'i", `w"h"o"am"i`,
		"cat$xy $xy/etc$xy/passwd", "${IFS}cat${IFS}/etc/passwd", "c''md /c", "c'md /c calc",
		"power'shell.exe -nop", "cmd.e'x'e /c", "She's a bit overweight; there's mild tartar (nothing yet).",
		"new-obj'ect net.webcl'ient", "C:\\Win'dows\\Sys'tem32", "'", "a'", "'a", "a'b", "$", "a$b", "a$", "^^^",
		"wscri'pt.shell", "chr'w(65) & x", strings.Repeat("it's ", 40) + "cmd.e'xe",
	}
	values = append(values, corpusPayloads(t)...)
	for _, v := range values {
		checkNormalizeShell(t, v)
	}
	// The case seamGates exists for: a gate phrase made by joining.
	v := "x y c'm'd.exe /c calc"
	cs := charsetOf(v)
	n, seams, exact := normalizeShell(v, &cs, nil)
	if !exact || n != "x y cmd.exe /c calc" || len(seams) != 2 || seamGates(n, seams)&gateWindows == 0 {
		t.Fatalf("normalizeShell of a joined cmd.exe: %q %v %v, seam gates %b", n, seams, exact, seamGates(n, seams))
	}
}

func FuzzNormalizeShell(f *testing.F) {
	for _, s := range []string{"c'a't", "She's here; it's (fine)", "cmd.e'x'e", `a\"b`, "$x/etc", "c^m^d", "p'ower'shell -e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) { checkNormalizeShell(t, v) })
}
