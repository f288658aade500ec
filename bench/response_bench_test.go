package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
)

// BenchmarkGatewayUsers sends GET /bench/users (the 4 KB page) through an
// in-process gateway built from portcullis-openapi.yaml and from
// portcullis-response.yaml (the same plus contract and mask), for CPU
// profiles of the whole path (`-cpuprofile`); bench/run.sh is where the
// two are compared as throughput.
func BenchmarkGatewayUsers(b *testing.B) {
	doc, err := os.ReadFile("upstream/users.json")
	if err != nil {
		b.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
		_, _ = w.Write(doc)
	}))
	defer up.Close()
	for _, row := range []struct{ name, config string }{{"openapi", "portcullis-openapi.yaml"}, {"response", "portcullis-response.yaml"}} {
		b.Run(row.name, func(b *testing.B) {
			b.Setenv("PORTCULLIS_ADDR", "127.0.0.1:0")
			b.Setenv("PORTCULLIS_UPSTREAM", up.URL)
			cfg, err := config.Load(row.config)
			if err != nil {
				b.Fatal(err)
			}
			addr, stop := startServer(b, cfg)
			defer func() {
				// Not timed: Close waits for connections the client left idle
				// (up to seconds, which showed as milliseconds per request).
				b.StopTimer()
				stop()
			}()
			url := "http://" + addr + "/bench/users"
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(url)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}
