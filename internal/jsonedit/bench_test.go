package jsonedit

import (
	"os"
	"testing"
)

type noop struct{}

func (noop) Member(c int, _ []byte) (int, Action)      { return c + 1, Keep }
func (noop) Element(c int, _ int) (int, Action)        { return c + 1, Keep }
func (noop) Scalar(int, Kind, []byte) ([]byte, Action) { return nil, Keep }

// BenchmarkWalk is the walker's own cost on the bench's 4 KB page: the
// floor of every stage that uses it.
func BenchmarkWalk(b *testing.B) {
	doc, err := os.ReadFile("../../bench/upstream/users.json")
	if err != nil {
		b.Skip(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Rewrite(doc, 0, noop{}, nil, 0); err != nil {
			b.Fatal(err)
		}
	}
}
