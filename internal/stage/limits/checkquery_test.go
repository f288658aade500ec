package limits

import (
	"fmt"
	"testing"
)

// TestCheckQueryEveryByte checks checkQuery on every raw byte and every
// escape against its rules: '%' must start a valid escape; NUL, CR and LF
// are refused raw or escaped, the other control bytes raw.
func TestCheckQueryEveryByte(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c >= 0x20 && c != 0x7f && c != '%'
		if _, _, got := checkQuery("a=b" + string([]byte{byte(c)}) + "c"); got != want {
			t.Errorf("raw byte %#x: got %v, want %v", c, got, want)
		}
		want = c != 0 && c != '\r' && c != '\n'
		for _, q := range []string{fmt.Sprintf("q=%%%02X", c), fmt.Sprintf("q=%%%02xz", c)} {
			if _, _, got := checkQuery(q); got != want {
				t.Errorf("%q: got %v, want %v", q, got, want)
			}
		}
	}
	for _, q := range []string{"q=%", "q=%4", "q=%G0", "q=%0G&x", "%"} {
		if rule, _, ok := checkQuery(q); ok || rule != RuleBadEncoding {
			t.Errorf("%q: got %v %q, want %q", q, ok, rule, RuleBadEncoding)
		}
	}
}
