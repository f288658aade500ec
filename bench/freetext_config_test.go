package bench

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/redact"
)

type discard struct{}

func (discard) Publish(events.Event) bool { return true }

// TestFreeTextConfig builds the "portcullis+full" gateway of run.sh and
// checks that both free-text requests it sends are served (a row whose
// requests are refused would measure the denial path), and that an attack
// in the same places is refused.
func TestFreeTextConfig(t *testing.T) {
	cfg := freeTextConfig(t)
	for _, key := range []string{"waf", "validate", "authn", "ratelimit"} {
		if cfg.APIs[0].Stages[key] == nil {
			t.Errorf("no %s block, want the whole pipeline", key)
		}
	}
	if cfg.Log.Access == "off" {
		t.Errorf("log.access is off, want the access log on")
	}
	g := freeTextGateway(t, cfg)
	key, _ := os.ReadFile("identity-apikey.headers")
	name, value, _ := strings.Cut(strings.TrimSpace(string(key)), ": ")
	body, err := os.ReadFile("body-prose.json")
	if err != nil {
		t.Fatal(err)
	}
	send := func(method, target, body string) int {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.RemoteAddr = "127.0.0.1:40000" // httptest's default is in TEST-NET-1, which the deny list covers
		r.Header.Set(name, value)
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Logf("%s %s: %d %s", method, target, w.Code, w.Body)
		}
		return w.Code
	}
	for _, tt := range []struct {
		name, method, target, body string
		want                       int
	}{
		{"prose POST", "POST", "/bench", string(body), 200},
		{"free-text GET", "GET", "/bench?" + freeTextQuery, "", 200},
		{"attack in the notes", "POST", "/bench", strings.Replace(string(body), "Bella came in", "Bella'; DROP TABLE pets;-- came in", 1), 403},
		{"attack in the query", "GET", "/bench?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "", 403},
	} {
		if got := send(tt.method, tt.target, tt.body); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, got, tt.want)
		}
	}
}

// freeTextGateway builds the in-process gateway of cfg (closed with the
// test), with the access logger the server builds (redact.JSONHandler)
// writing nowhere: the record's cost without the write.
func freeTextGateway(tb testing.TB, cfg *config.Config) *gateway.Gateway {
	g, err := gateway.New(cfg, gateway.Deps{Metrics: metrics.New(), Events: discard{}, Access: slog.New(redact.JSONHandler(io.Discard))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(g.Close)
	return g
}

// freeTextConfig loads portcullis-freetext.yaml in front of a real
// upstream on loopback (closed with the test).
func freeTextConfig(tb testing.TB) *config.Config {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	tb.Cleanup(up.Close)
	tb.Setenv("PORTCULLIS_ADDR", "127.0.0.1:18080")
	tb.Setenv("PORTCULLIS_UPSTREAM", up.URL)
	cfg, err := config.Load("portcullis-freetext.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// freeTextQuery is run.sh's free-text GET query (FREE_TEXT_QUERY there).
const freeTextQuery = "q=how+do+I+return+a+damaged+order%3F+It+arrived+yesterday%2C+the+box+was+crushed+and+one+mug+is+chipped.&limit=20"

// BenchmarkFreeTextPipeline is the prose POST and the free-text GET of
// run.sh through the whole portcullis+full gateway in process (upstream
// on loopback), for CPU profiles (docs/waf.md):
//
//	go test ./bench -run XXX -bench FreeTextPipeline -cpuprofile cpu.out
func BenchmarkFreeTextPipeline(b *testing.B) {
	g := freeTextGateway(b, freeTextConfig(b))
	body, _ := os.ReadFile("body-prose.json")
	for _, tt := range []struct{ name, method, target, body string }{
		{"POST-prose", "POST", "/bench", string(body)},
		{"GET-free-text", "GET", "/bench?" + freeTextQuery, ""},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
					r.RemoteAddr = "127.0.0.1:40000"
					r.Header.Set("X-Api-Key", "pk_be0c00000001_bench-key-published-in-the-repository")
					r.Header.Set("User-Agent", "Go-http-client/1.1") // run.sh's loadgen sends Go's default
					if tt.body != "" {
						r.Header.Set("Content-Type", "application/json")
					}
					w := httptest.NewRecorder()
					g.ServeHTTP(w, r)
					if w.Code != 200 {
						b.Fatalf("got %d %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}

// BenchmarkFreeTextWithout is the free-text GET through the portcullis+full
// gateway with one part left out at a time ("none" is the whole pipeline,
// "all" the gateway without stages and access record): what each part
// costs a request, in process (docs/waf.md).
//
//	go test ./bench -run XXX -bench FreeTextWithout -count 5
func BenchmarkFreeTextWithout(b *testing.B) {
	for _, drop := range []string{"none", "waf", "validate", "authn", "ratelimit", "ipfilter", "access", "all"} {
		b.Run(drop, func(b *testing.B) {
			cfg := freeTextConfig(b)
			access := slog.New(redact.JSONHandler(io.Discard))
			switch drop {
			case "none":
			case "access":
				access = nil
			case "ipfilter":
				delete(cfg.Stages, "ipfilter")
			case "all":
				access = nil
				clear(cfg.APIs[0].Stages)
				delete(cfg.Stages, "ipfilter")
			default:
				delete(cfg.APIs[0].Stages, drop)
			}
			g, err := gateway.New(cfg, gateway.Deps{Metrics: metrics.New(), Events: discard{}, Access: access})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(g.Close)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest("GET", "/bench?"+freeTextQuery, nil)
					r.RemoteAddr = "127.0.0.1:40000"
					r.Header.Set("X-Api-Key", "pk_be0c00000001_bench-key-published-in-the-repository")
					r.Header.Set("User-Agent", "Go-http-client/1.1")
					w := httptest.NewRecorder()
					g.ServeHTTP(w, r)
					if w.Code != 200 {
						b.Fatalf("got %d %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}
