package redact

import "testing"

// BenchmarkQuery redacts the free-text query of bench/run.sh's GET row
// (ordinary words, nothing to mask), which every access record of that
// row carries.
func BenchmarkQuery(b *testing.B) {
	r := New(nil, nil)
	const q = "q=how+do+I+return+a+damaged+order%3F+It+arrived+yesterday%2C+the+box+was+crushed+and+one+mug+is+chipped.&limit=20"
	b.ReportAllocs()
	for b.Loop() {
		if got := r.Query(q); got != q {
			b.Fatalf("got %q", got)
		}
	}
}

// BenchmarkTextFindingReason redacts what every answer of the bench's 4
// KB row adds to its event: contract's finding, a list of JSON pointers.
func BenchmarkTextFindingReason(b *testing.B) {
	r := New(nil, nil)
	const reason = "11 undeclared properties removed: /users/0/internal_risk_score, /users/1/internal_risk_score, " +
		"/users/2/internal_risk_score, /users/3/internal_risk_score, /users/4/internal_risk_score, …"
	for b.Loop() {
		if r.Text(reason) != reason {
			b.Fatal("changed")
		}
	}
}
