package waf_test

import (
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/waf"
)

// TestClientBudgetSparesBenignTraffic prices every benign request of the
// external corpora (fortunes, e-mail addresses and user agents in every
// place, and the realistic API bodies: reviews, vet notes, Markdown, Go
// snippets) at the default client budget: what an ordinary client pays.
// Almost all of it must be free, and replaying the whole benign corpus at
// once must fit in one client's default burst.
func TestClientBudgetSparesBenignTraffic(t *testing.T) {
	s, err := waf.New(waf.Config{}, waf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var costs []int64
	price := func(method, target, ctype, body, header, value string) {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		if header != "" {
			r.Header.Set(header, value)
		}
		x := pipeline.NewExchange(r, "req", time.Unix(0, 0))
		x.BodyLimit = 1 << 20
		c, err := s.CostOf(x)
		if err != nil {
			t.Fatal(err)
		}
		costs = append(costs, c)
	}
	for _, set := range benignSets(t) {
		for _, p := range set.payloads {
			if set.class == "user-agents" {
				price("GET", "/api/items?q=ok", "", "", "User-Agent", p)
				continue
			}
			for _, place := range []string{"json", "form", "query", "multipart"} {
				r, ok := corpusRequest(place, p)
				if !ok {
					continue
				}
				x := pipeline.NewExchange(r, "req", time.Unix(0, 0))
				x.BodyLimit = 1 << 20
				c, err := s.CostOf(x)
				if err != nil {
					t.Fatal(err)
				}
				costs = append(costs, c)
			}
		}
	}
	for _, doc := range apiBodies(t) {
		price("POST", "/api/items", "application/json", doc.body, "User-Agent", browserUA)
	}
	if len(costs) < 1000 {
		t.Fatalf("only %d benign requests priced: corpora missing (scripts/test-deps.sh)", len(costs))
	}
	var charged, total int64
	for _, c := range costs {
		if c > 0 {
			charged++
		}
		total += c
	}
	sort.Slice(costs, func(i, j int) bool { return costs[i] > costs[j] })
	t.Logf("%d benign requests: %d charged (%.2f%%), %d KiB in all, the dearest %v KiB",
		len(costs), charged, 100*float64(charged)/float64(len(costs)), total, costs[:5])
	if float64(charged) > 0.01*float64(len(costs)) {
		t.Errorf("%d of %d benign requests are charged; ordinary requests must be free", charged, len(costs))
	}
	if burst := int64(4 * waf.DefaultBudgetRate); total > burst {
		t.Errorf("the benign corpus costs %d KiB at once, more than one client's default burst (%d KiB)", total, burst)
	}
}
