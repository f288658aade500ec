package dlp

import (
	"os"
	"testing"
)

// benchText is realistic text without secrets: a fortunes file when the
// machine has one, else the package's own source.
func benchText(b *testing.B) []byte {
	for _, f := range []string{"/usr/share/games/fortunes/computers", "dlp.go"} {
		if data, err := os.ReadFile(f); err == nil {
			if len(data) > 64<<10 {
				data = data[:64<<10]
			}
			return data
		}
	}
	b.Skip("no text")
	return nil
}

func BenchmarkFindProse(b *testing.B) {
	data := benchText(b)
	var buf [8]Match
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Find(data, All, buf[:0])
	}
}

func BenchmarkRedactLogLine(b *testing.B) {
	line := `GET /api/v1/orders?customer=alice&page=2&sort=created_at HTTP/1.1 Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36`
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		Redact(line, All)
	}
}
