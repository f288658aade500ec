package mask_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/contract"
	"github.com/portcullis/portcullis/internal/stage/mask"
)

// BenchmarkResponseStages runs contract (filter) and mask on the bench's
// realistic 4 KB page (bench/upstream/users.json) as the gateway does:
// one shared body read and one walk, contract first.
func BenchmarkResponseStages(b *testing.B) {
	doc, err := os.ReadFile("../../../bench/upstream/users.json")
	if err != nil {
		b.Skip(err)
	}
	spec, err := openapi.Load("../../../bench/bench.openapi.yaml")
	if err != nil {
		b.Fatal(err)
	}
	c, _ := contract.New(contract.Config{})
	c.Compile(spec)
	m, _ := mask.New(mask.Config{})
	for _, stages := range []struct {
		name  string
		chain pipeline.Chain // in registry order: answers go through it backwards
	}{{"none (the benchmark's own cost)", nil}, {"contract", pipeline.Chain{{Stage: c}}}, {"mask", pipeline.Chain{{Stage: m}}}, {"both", pipeline.Chain{{Stage: m}, {Stage: c}}}} {
		b.Run(stages.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				r := httptest.NewRequest("GET", "/bench/users", nil)
				x := pipeline.NewExchange(r, "id", time.Unix(0, 0))
				op, _, res := spec.Match("GET", "/bench/users")
				x.Match, x.Operation = res, op.Key()
				resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(bytes.NewReader(doc)), ContentLength: int64(len(doc)), Request: r}
				if d := stages.chain.RunResponse(context.Background(), x, resp); d != nil {
					b.Fatal(d)
				}
				_, _ = io.Copy(io.Discard, resp.Body) // the answer is written,
				x.Finish()                            // then the exchange ends
			}
		})
	}
}
