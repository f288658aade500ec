package redact

import "testing"

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
