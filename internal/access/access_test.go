package access

import "testing"

// TestClass: the status classes the dashboard's charts count by, at the
// edges of each range and outside them.
func TestClass(t *testing.T) {
	for status, want := range map[int]string{0: "other", 99: "other", 100: "1xx", 199: "1xx", 200: "2xx", 204: "2xx",
		301: "3xx", 404: "4xx", 499: "4xx", 500: "5xx", 599: "5xx", 600: "other", -1: "other"} {
		if got := Class(status); got != want {
			t.Errorf("Class(%d) = %q, want %q", status, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = Class(503) }); n != 0 {
		t.Errorf("Class allocates %.0f times a call", n)
	}
}
