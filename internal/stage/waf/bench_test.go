package waf

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/corazawaf/coraza/v3"
)

// body1k is bench/run.sh's 1 KB POST body.
var body1k = `{"data":"` + strings.Repeat("x", 1013) + `"}`

// bodyText is a 1 KB body of realistic free text, which reaches Coraza.
var bodyText = `{"comment":"` + strings.Repeat("Hello, I'd like to return my order (#42); it arrived damaged. ", 16) + `","count":3,"kind":"a"}`

func benchInspect(b *testing.B, method, target, body string, typed ...string) {
	s := sharedStage(b)
	b.ReportAllocs()
	for b.Loop() {
		var r = httptest.NewRequest(method, target, nil)
		if body != "" {
			r = jsonRequest(body)
		}
		r.Header.Set("User-Agent", "Go-http-client/1.1")
		x := exchange(r)
		for _, t := range typed {
			x.Proven.Add(t)
		}
		if v, err := s.Inspect(x); err != nil || v.Blocked {
			b.Fatalf("got %+v, %v", v, err)
		}
	}
}

// BenchmarkInspect measures the stage alone on benign requests.
func BenchmarkInspect(b *testing.B) {
	b.Run("GET", func(b *testing.B) { benchInspect(b, "GET", "/bench", "") })
	b.Run("GET-query", func(b *testing.B) { benchInspect(b, "GET", "/bench?q=red+shoes&limit=10&order=asc", "") })
	b.Run("POST-1k-inert", func(b *testing.B) { benchInspect(b, "POST", "/bench", body1k) })
	b.Run("POST-1k-freetext", func(b *testing.B) { benchInspect(b, "POST", "/bench", bodyText) })
	b.Run("POST-1k-freetext-typed", func(b *testing.B) {
		benchInspect(b, "POST", "/bench", bodyText, "body:/comment", "body:/count", "body:/kind")
	})
}

// BenchmarkCorazaParsesBody is the other way round: Coraza's own JSON body
// processor over the same body, with the same rules (for comparison with
// BenchmarkInspect/POST-1k-freetext, where the stage parses the body and
// feeds decoded values as ARGS).
func BenchmarkCorazaParsesBody(b *testing.B) {
	w, err := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(BaselineFS()).WithDirectives(BaselineDirectives(1)))
	if err != nil {
		b.Fatal(err)
	}
	for _, body := range []struct{ name, body string }{{"1k-inert", body1k}, {"1k-freetext", bodyText}} {
		b.Run(body.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tx := w.NewTransaction()
				tx.ProcessURI("/bench", "POST", "HTTP/1.1")
				tx.AddRequestHeader("Host", "127.0.0.1:8080")
				tx.AddRequestHeader("User-Agent", "Go-http-client/1.1")
				tx.AddRequestHeader("Content-Type", "application/json")
				tx.AddRequestHeader("Content-Length", "1024")
				tx.ProcessRequestHeaders()
				_, _, _ = tx.WriteRequestBody([]byte(body.body))
				_, _ = tx.ProcessRequestBody()
				_ = tx.Close()
			}
		})
	}
}

// bodyProse is bench/run.sh's free-text POST body (bench/body-prose.json):
// a pet's vet notes, multi-sentence punctuated English, about 1 KB.
var bodyProse = func() string {
	b, err := os.ReadFile("../../../bench/body-prose.json")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// BenchmarkFreeText measures the stage on realistic free text: the prose
// POST and a GET whose query is a sentence.
func BenchmarkFreeText(b *testing.B) {
	b.Run("POST-1k-prose", func(b *testing.B) { benchInspect(b, "POST", "/bench", bodyProse) })
	b.Run("GET-prose-query", func(b *testing.B) {
		benchInspect(b, "GET", "/bench?q=how+do+I+return+a+damaged+order%3F+It+arrived+yesterday%2C+box+crushed.&limit=20", "")
	})
	// bench's BenchmarkFreeTextPipeline/GET-free-text query (issue 17).
	b.Run("GET-free-text", func(b *testing.B) {
		benchInspect(b, "GET", "/bench?q=how+do+I+return+a+damaged+order%3F+It+arrived+yesterday%2C+the+box+was+crushed+and+one+mug+is+chipped.&limit=20", "")
	})
}

// BenchmarkHeaderAmplification measures what one header costs the stage
// in the shapes an independent test found expensive (issue 11, finding 5),
// each as large as the limits stage lets a header line be (8 KiB), beside
// a normal request. Larger headers never reach the stage.
func BenchmarkHeaderAmplification(b *testing.B) {
	s := sharedStage(b)
	const size = 8<<10 - 64
	shapes := []struct{ name, header, value string }{
		{"normal", "", ""},
		// A normal request that does reach the CRS: a filter expression.
		{"normal-crs", "X-Filter", "status:eq:active;sort=-created_at,limit=20"},
		{"braces", "X-Note", strings.Repeat("{{", size/2)},
		{"entities", "X-Note", strings.Repeat("&lt;", size/4)},
		{"angle-quotes", "X-Note", strings.Repeat("‹", size/3)},
		{"tags-in-cookie", "Cookie", "c=" + strings.Repeat("<a>", size/3)},
		{"parens", "X-Note", strings.Repeat("(", size)},
		{"quotes", "Cookie", "c=" + strings.Repeat("'", size)},
		// Punctuation that does not repeat: folding cannot shorten it, the
		// max_inspect_bytes budget bounds it.
		{"mixed-punctuation", "X-Note", mixedPunctuation(size)},
		// Just under the junk threshold, in as many headers as the
		// limits stage's 32 KiB allow.
		{"many-small-junk-headers", "X-Note-", mixedPunctuation(1000)},
	}
	for _, sh := range shapes {
		b.Run(sh.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Inspect(exchange(amplificationRequest(sh.header, sh.value))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// amplificationRequest is a normal GET with one header set (or 30 headers
// named header+N when header ends in '-').
func amplificationRequest(header, value string) *http.Request {
	r := httptest.NewRequest("GET", "/bench?q=red+shoes&limit=10", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("X-Request-Source", "mobile-app")
	switch {
	case strings.HasSuffix(header, "-"):
		for i := 0; i < 30; i++ {
			r.Header.Set(header+strconv.Itoa(i), value)
		}
	case header != "":
		r.Header.Set(header, value)
	}
	return r
}

// mixedPunctuation is n bytes of punctuation with no unit repeated.
func mixedPunctuation(n int) string {
	const p = "{<('\"&;|$`[%*!=>)}"
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		b.WriteByte(p[(i*7+i/len(p))%len(p)])
	}
	return b.String()
}

// BenchmarkLevers measures what each speed lever buys (docs/waf.md): the
// stage with every lever on, and with each one off, on the requests where
// it matters. Run with -count and read the minimum: the machine is shared.
func BenchmarkLevers(b *testing.B) {
	configs := []struct {
		name string
		lv   levers
	}{
		{"all", allLevers},
		{"no-prose", levers{rxPrefilter: true, ownFirst: true, re2: true}},
		{"no-re2", levers{prose: true, rxPrefilter: true, ownFirst: true}},
		{"no-prefilter", levers{prose: true, ownFirst: true, re2: true}},
		{"none", levers{}},
	}
	reqs := []struct {
		name string
		make func() *http.Request
	}{
		{"prose-POST", func() *http.Request { return jsonRequest(bodyProse) }},
		{"prose-GET", func() *http.Request {
			return httptest.NewRequest("GET", "/bench?q=how+do+I+return+a+damaged+order%3F+It+arrived+yesterday%2C+box+crushed.&limit=20", nil)
		}},
		{"filter-header", func() *http.Request {
			return amplificationRequest("X-Filter", "status:eq:active;sort=-created_at,limit=20")
		}},
		{"braces-header-8k", func() *http.Request { return amplificationRequest("X-Note", strings.Repeat("{{", 4000)) }},
	}
	for _, c := range configs {
		s, err := newStage(Config{}, Options{}, c.lv)
		if err != nil {
			b.Fatal(err)
		}
		for _, rq := range reqs {
			b.Run(c.name+"/"+rq.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Inspect(exchange(rq.make())); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
