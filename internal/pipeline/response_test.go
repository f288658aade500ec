package pipeline

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// upstreamResponse builds a response as the transport hands it over: a
// body that is a stream (not a bytes.Reader), with or without a length.
func upstreamResponse(body []byte, header http.Header, length bool) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	r := &http.Response{StatusCode: 200, Header: header, Body: io.NopCloser(io.MultiReader(bytes.NewReader(body))), ContentLength: -1}
	if length {
		r.ContentLength = int64(len(body))
	}
	return r
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func newX() *Exchange {
	return NewExchange(httptest.NewRequest("GET", "/", nil), "id", time.Unix(0, 0))
}

func TestResponseBodyStates(t *testing.T) {
	doc := []byte(`{"user":"alice","note":"` + strings.Repeat("n", 200) + `"}`)
	bomb := gz(t, bytes.Repeat([]byte("0"), 3<<20)) // 3 MiB of zeros, ~3 KB gzipped
	cases := []struct {
		name   string
		resp   func() *http.Response
		max    int64
		state  BodyState
		got    []byte // the bytes returned for BodyRead
		client []byte // what the client receives afterwards
	}{
		{name: "identity with length", resp: func() *http.Response { return upstreamResponse(doc, nil, true) },
			max: 1024, state: BodyRead, got: doc, client: doc},
		{name: "identity chunked", resp: func() *http.Response { return upstreamResponse(doc, nil, false) },
			max: 1024, state: BodyRead, got: doc, client: doc},
		{name: "gzip is decoded, the client still gets the gzip bytes", resp: func() *http.Response {
			return upstreamResponse(gz(t, doc), http.Header{"Content-Encoding": {"gzip"}}, false)
		}, max: 1024, state: BodyRead, got: doc, client: gz(t, doc)},
		{name: "declared length over the cap is not read", resp: func() *http.Response { return upstreamResponse(doc, nil, true) },
			max: 100, state: BodyTooLarge, client: doc},
		{name: "chunked over the cap passes whole", resp: func() *http.Response { return upstreamResponse(doc, nil, false) },
			max: 100, state: BodyTooLarge, client: doc},
		{name: "gzip bomb", resp: func() *http.Response {
			return upstreamResponse(bomb, http.Header{"Content-Encoding": {"gzip"}}, true)
		}, max: 1 << 20, state: BodyTooLarge, client: bomb},
		{name: "broken gzip", resp: func() *http.Response {
			return upstreamResponse([]byte("not gzip at all"), http.Header{"Content-Encoding": {"gzip"}}, true)
		}, max: 1024, state: BodyEncoded, client: []byte("not gzip at all")},
		{name: "brotli is not decoded", resp: func() *http.Response {
			return upstreamResponse([]byte{0x0b, 0x02, 0x80}, http.Header{"Content-Encoding": {"br"}}, true)
		}, max: 1024, state: BodyEncoded, client: []byte{0x0b, 0x02, 0x80}},
		{name: "event stream is never read", resp: func() *http.Response {
			return upstreamResponse([]byte("data: 1\n\n"), http.Header{"Content-Type": {"text/event-stream"}}, false)
		}, max: 1024, state: BodyStreamed, client: []byte("data: 1\n\n")},
		{name: "ndjson is never read", resp: func() *http.Response {
			return upstreamResponse([]byte("{}\n{}\n"), http.Header{"Content-Type": {"application/x-ndjson; charset=utf-8"}}, false)
		}, max: 1024, state: BodyStreamed, client: []byte("{}\n{}\n")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := newX()
			resp := c.resp()
			got, st, err := x.ResponseBody(resp, c.max)
			if err != nil {
				t.Fatal(err)
			}
			if st != c.state {
				t.Fatalf("state: got %v, want %v", st, c.state)
			}
			if st == BodyRead && !bytes.Equal(got, c.got) {
				t.Fatalf("bytes: got %q, want %q", got, c.got)
			}
			if st != BodyRead && got != nil {
				t.Fatalf("got %d bytes for state %v, want none", len(got), st)
			}
			sent, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sent, c.client) {
				t.Fatalf("the client would get %d bytes, want the upstream's %d", len(sent), len(c.client))
			}
			if cl := resp.Header.Get("Content-Length"); st == BodyRead && cl != "" && cl != strconv.Itoa(len(c.client)) {
				t.Fatalf("Content-Length %s for %d bytes", cl, len(c.client))
			}
		})
	}
}

func TestResponseBodyIsSharedAndReplaced(t *testing.T) {
	x := newX()
	resp := upstreamResponse(gz(t, []byte(`{"a":1}`)), http.Header{"Content-Encoding": {"gzip"}, "Etag": {`"v1"`}}, false)
	a, _, _ := x.ResponseBody(resp, 1024)
	b, _, _ := x.ResponseBody(resp, 1024)
	if &a[0] != &b[0] {
		t.Fatal("a second stage read the body again instead of sharing it")
	}
	x.SetResponseBody(resp, []byte(`{}`))
	c, st, _ := x.ResponseBody(resp, 1024)
	if st != BodyRead || string(c) != `{}` {
		t.Fatalf("after SetResponseBody a later stage got %q (%v), want {}", c, st)
	}
	for _, h := range []string{"Content-Encoding", "Etag"} {
		if resp.Header.Get(h) != "" {
			t.Errorf("%s kept after the body was replaced", h)
		}
	}
	if resp.Header.Get("Content-Length") != "2" || resp.ContentLength != 2 {
		t.Errorf("length: header %q field %d, want 2", resp.Header.Get("Content-Length"), resp.ContentLength)
	}
	sent, _ := io.ReadAll(resp.Body)
	if string(sent) != `{}` {
		t.Fatalf("the client would get %q", sent)
	}
}

func TestResponseBodyLaterStageWithLargerCap(t *testing.T) {
	x := newX()
	doc := bytes.Repeat([]byte("x"), 300)
	resp := upstreamResponse(doc, nil, false)
	if _, st, _ := x.ResponseBody(resp, 100); st != BodyTooLarge {
		t.Fatalf("first stage: got %v, want too large", st)
	}
	got, st, _ := x.ResponseBody(resp, 1000)
	if st != BodyRead || !bytes.Equal(got, doc) {
		t.Fatalf("second stage with a larger cap: got %v (%d bytes), want the whole body", st, len(got))
	}
	sent, _ := io.ReadAll(resp.Body)
	if !bytes.Equal(sent, doc) {
		t.Fatalf("the client would get %d bytes, want %d", len(sent), len(doc))
	}
}

func TestReplyIsWrittenAsIs(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		length string
	}{{204, "", ""}, {401, `{"title":"x"}`, "13"}} {
		w := httptest.NewRecorder()
		WriteReply(w, &Reply{Status: c.status, Header: http.Header{"Access-Control-Max-Age": {"600"}}, Body: []byte(c.body)})
		if w.Code != c.status || w.Body.String() != c.body || w.Header().Get("Access-Control-Max-Age") != "600" {
			t.Errorf("got %d %q %v", w.Code, w.Body.String(), w.Header())
		}
		if got := w.Header().Get("Content-Length"); got != c.length {
			t.Errorf("%d: Content-Length %q, want %q", c.status, got, c.length)
		}
	}
	d := (&Denial{Reply: &Reply{Status: 204, Header: http.Header{"A": {"1"}}}}).Clone()
	d.Reply.Header.Set("A", "2")
	if d.Reply.Status != 204 {
		t.Fatal("clone lost the reply")
	}
}

// TestHeaderValueIsGet checks HeaderValue against http.Header.Get for
// canonical keys, present, absent, empty and repeated.
func TestHeaderValueIsGet(t *testing.T) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Add("Content-Encoding", "gzip")
	h.Add("Content-Encoding", "br")
	h["Etag"] = []string{}
	h["content-length"] = []string{"12"} // not canonical: Get does not find it either
	for _, k := range []string{"Content-Type", "Content-Encoding", "Etag", "Content-Length", "X-None"} {
		if got, want := HeaderValue(h, k), h.Get(k); got != want {
			t.Errorf("HeaderValue(%q) = %q, want %q", k, got, want)
		}
	}
}
