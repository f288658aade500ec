package waf

import (
	"strings"
	"testing"
)

// prefilterSeeds are values on both sides of the prefilters' lines.
var prefilterSeeds = []string{
	"how do I return a damaged order? It arrived yesterday, the box was crushed and one mug is chipped.",
	`<xsl:value-of select="system-property('xsl:vendor')"/>`, "php:function ('exec','id')", "Runtime:getRuntime()",
	`if "%a%"=="b" x`, `IF EXIST c:\x y`, "if 1 GEQ 2 z", "if a===b c",
	"1 ORDER BY 3--", "1 order\tby 2#", "' order\n\fby 1/*", " order by 4", "orderby 1--", "order  BY 10", "ORDER",
	"by order by", "please order by phone", "/etc/passwd", "  /proc/self/environ", "FILE:///etc/shadow", "file:/boot/grub",
	"process.env", "PROCESS\t[\"env\"]", "require.main", "console [\"log\"]", "global . process", "this.constructor", "module.exports=1",
	`C:\Windows\system32`, "c:/winnt/repair", `..\windows\win.ini`, "/WINDOWS/system32/x", "Go-http-client/1.1",
	"a/b", "\t/root/.ssh/id_rsa", "dGhpcyBpcyBhIHRlc3Q=", "dGhp cyBp cyBh IHRl c3Q=", "abc def ghi jkl mno", "a?b",
	"whoami -a", "  ls  -la /", "which wget", "WHEREIS curl", "Python 3.12", "tr\u00a0-d x", "ls\u2003-la", "",
	"a\nid", "a\n  ls\r\nb", "a\nB\n", "\n", "x\n\n", "line\nmore words\nwhoami",
	" \t", "cmd.exe /c dir", "/usr/bin/id -u",
}

// FuzzPrefilters checks that each cheap test in front of an expensive one
// never hides what the expensive one finds.
func FuzzPrefilters(f *testing.F) {
	for _, s := range prefilterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if sqlExtra.MatchString(v) && gates(v)&gateSQL == 0 && !orderBy(v) {
			t.Errorf("sqlExtra matches %q, which neither gate lets through", v)
		}
		if nodeJS.MatchString(v) && gates(v)&gateNode == 0 {
			t.Errorf("nodeJS matches %q, which gateNode does not let through", v)
		}
		if cs := charsetOf(v); !cs.nonASCII() {
			if xsltExpr.MatchString(v) && gates(v)&gateXSLT == 0 {
				t.Errorf("xsltExpr matches %q, which gateXSLT does not let through", v)
			}
			if winIf.MatchString(v) && gates(v)&gateWinIfWord == 0 {
				t.Errorf("winIf matches %q, which gateWinIfWord does not let through", v)
			}
		}
		if systemPath.MatchString(v) && !systemPathMaybe(v) {
			t.Errorf("systemPath matches %q, which systemPathMaybe refuses", v)
		}
		if first, ok := firstFieldASCII(v); ok {
			f := strings.Fields(v)
			want := ""
			if len(f) > 0 {
				want = f[0]
			}
			if first != want {
				t.Errorf("firstFieldASCII(%q) = %q, want %q", v, first, want)
			}
		}
		if fast, slow := ProseBothWays(v); fast != slow {
			t.Errorf("prose(%q) = %v skipping runs, %v byte by byte", v, fast, slow)
		}
		if got, want := loneWordLine(v), loneWordLineByByte(v); got != want {
			t.Errorf("loneWordLine(%q) = %v, want %v", v, got, want)
		}
		if !base64Bytes(v) {
			if d, ok := Base64Text(v); ok {
				t.Errorf("Base64Text(%q) = %q although base64Bytes refuses it", v, d)
			}
		}
	})
}

func TestPrefilters(t *testing.T) {
	for _, tt := range []struct {
		v                string
		orderBy, sysPath bool
	}{
		{"1 ORDER BY 3--", true, false},
		{"' order\n\fby 1/*", true, false},
		{"please order by phone", true, false},
		{"orderby 1", false, false},
		{"how do I return a damaged order? It arrived", false, false},
		{"  /etc/passwd", false, true},
		{"FILE:///etc/shadow", false, true},
		{`C:\Windows\system32`, false, true},
		{"..\\WINNT\\repair", false, true},
		{"Go-http-client/1.1", false, false},
	} {
		t.Run(tt.v, func(t *testing.T) {
			if got := orderBy(tt.v); got != tt.orderBy {
				t.Errorf("orderBy: got %v, want %v", got, tt.orderBy)
			}
			if got := systemPathMaybe(tt.v); got != tt.sysPath {
				t.Errorf("systemPathMaybe: got %v, want %v", got, tt.sysPath)
			}
		})
	}
}

// loneWordLineByByte is loneWordLine as first written, one byte at a time:
// the reference for FuzzPrefilters.
func loneWordLineByByte(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] != '\n' {
			continue
		}
		j := i + 1
		for j < len(v) && (v[j] == ' ' || v[j] == '\t') {
			j++
		}
		k := j
		for k < len(v) && (v[k] >= 'a' && v[k] <= 'z' || v[k] >= '0' && v[k] <= '9') {
			k++
		}
		if k > j && (k == len(v) || v[k] == '\n' || v[k] == '\r') {
			return true
		}
	}
	return false
}
