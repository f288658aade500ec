package mask_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dlp"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/mask"
)

// values walks a decoded JSON value and calls f on every string and
// number.
func values(v any, f func(string)) {
	switch t := v.(type) {
	case map[string]any:
		for _, x := range t {
			values(x, f)
		}
	case []any:
		for _, x := range t {
			values(x, f)
		}
	case string:
		f(t)
	case json.Number:
		f(string(t))
	}
}

// FuzzMaskResponse runs the stage on arbitrary answers: a JSON answer
// stays JSON, and no string or number in what the client gets holds a
// value the detectors find.
func FuzzMaskResponse(f *testing.F) {
	f.Add([]byte(leaky()))
	f.Add([]byte(`{"a":"\u0034111111111111111","b":["x 5555 5555 5555 4444 y"]}`))
	f.Add([]byte(`[{"password":1},{"n":4111111111111111},"` + bcrypt + `"]`))
	f.Add([]byte(`"` + jwt + `"`))
	s, err := mask.New(mask.Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		x := pipeline.NewExchange(httptest.NewRequest("GET", "/", nil), "id", time.Unix(0, 0))
		resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: x.Request}
		d, err := s.Response(context.Background(), x, resp)
		if err != nil || d != nil {
			t.Fatalf("got %v %v, want the answer masked", d, err)
		}
		out, _ := io.ReadAll(resp.Body)
		if !json.Valid(body) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("a JSON answer became %q: %v", out, err)
		}
		values(v, func(s string) {
			if ms := dlp.Find(s, dlp.All, nil); len(ms) > 0 {
				t.Fatalf("%q still holds %s %q (input %q)", s, ms[0].Kind, s[ms[0].Start:ms[0].End], body)
			}
		})
	})
}
