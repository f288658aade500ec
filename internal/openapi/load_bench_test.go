package openapi

import (
	"path/filepath"
	"testing"
)

// BenchmarkLoadDemoSpec measures a full load of the demo description:
// parsing, $ref resolution, schema compilation and the match tree.
func BenchmarkLoadDemoSpec(b *testing.B) {
	path := filepath.Join("..", "demo", "openapi.yaml")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadCrossFile measures a load of a 3.0 description with $refs to
// another file.
func BenchmarkLoadCrossFile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load("testdata/v30.yaml"); err != nil {
			b.Fatal(err)
		}
	}
}
