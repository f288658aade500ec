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
