package waf

import (
	"encoding/json"
	"testing"
)

// TestProseListsAndPlurals: list markers and optional plurals are how
// ordinary documents write (the sentences below are from licence texts
// nobody here wrote, which the CRS blocked when prose refused them); a
// call, a marker glued to a word and an injection's closing parenthesis
// are still refused, and the attack shapes the CRS no longer sees are
// blocked by the built-in detectors.
func TestProseListsAndPlurals(t *testing.T) {
	for _, v := range []string{
		"The laws of most jurisdictions automatically confer exclusive Copyright and Related Rights (defined below) upon the creator and subsequent owner(s) (each and all, an owner).",
		"b) Use a suitable shared library mechanism for linking with the Library.",
		"c) Prohibiting misrepresentation of the origin of that material; or",
		"Please check the box(es) that apply: 1) the date 2) the time",
		"a) one\nb) two\niv) four",
	} {
		if !prose(v) {
			t.Errorf("prose(%q) = false", v)
		}
	}
	for _, v := range []string{
		"f(x) is a call", "sleep(5)", "exec(cmd)", "box(es)x", "ab(s)", "order) by 1", "a)b", "x)) or", "1)--",
		"word) stray", "a)", "owner(s)(1)",
	} {
		if prose(v) {
			t.Errorf("prose(%q) = true", v)
		}
	}
	s := sharedStage(t)
	for _, v := range []string{"1) union select password from users", "a) union all select null, null from dual"} {
		b, _ := json.Marshal(map[string]string{"note": v})
		x := exchange(jsonRequest(string(b)))
		if verdict, err := s.Inspect(x); err != nil || !verdict.Blocked {
			t.Errorf("%q in a JSON note: blocked %v, %v", v, verdict.Blocked, err)
		}
	}
}
