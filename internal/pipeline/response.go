package pipeline

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// BodyState says whether an upstream response body could be read for
// inspection (Exchange.ResponseBody).
type BodyState uint8

const (
	// BodyRead: the whole body was read and decoded; the bytes returned
	// are all of it (possibly none).
	BodyRead BodyState = iota
	// BodyTooLarge: the body is larger than the cap asked for (its
	// Content-Length says so, or more than the cap was read). Nothing
	// beyond the cap was buffered; the body reaches the client as the
	// upstream sent it.
	BodyTooLarge
	// BodyStreamed: the body is a stream (text/event-stream, NDJSON, gRPC,
	// multipart/x-mixed-replace), a protocol switch or a partial
	// representation (206). It is never buffered: reading it whole would
	// hold back every event of a stream until it ends.
	BodyStreamed
	// BodyEncoded: the body has a content encoding the gateway does not
	// decode (br, zstd, compress, several layers) or a gzip body that does
	// not decode. It reaches the client as the upstream sent it.
	BodyEncoded
)

// String returns the state as metric labels and events name it.
func (s BodyState) String() string {
	switch s {
	case BodyRead:
		return "read"
	case BodyTooLarge:
		return "too-large"
	case BodyStreamed:
		return "streamed"
	case BodyEncoded:
		return "encoded"
	}
	return "unknown"
}

// streamedTypes are media types whose bodies are streams of messages.
var streamedTypes = []string{
	"text/event-stream", "application/x-ndjson", "application/stream+json",
	"application/jsonl", "application/json-seq", "multipart/x-mixed-replace",
}

// HeaderValue returns the first value of h under key, which must be in
// canonical form ("Content-Type"): h.Get(key) without canonicalizing the
// key again (which showed in the profile of every buffered answer, a few
// times per response stage).
func HeaderValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Streamed reports whether resp is a stream, a protocol switch or a
// partial representation, which response stages never buffer.
func Streamed(resp *http.Response) bool {
	if resp.StatusCode == http.StatusSwitchingProtocols || resp.StatusCode == http.StatusPartialContent {
		return true
	}
	mt := MediaType(HeaderValue(resp.Header, "Content-Type"))
	if mt == "" {
		return false
	}
	if strings.HasPrefix(mt, "application/grpc") {
		return true
	}
	for _, s := range streamedTypes {
		if mt == s {
			return true
		}
	}
	return false
}

// MediaType returns the lower-case media type of a Content-Type header
// value, without its parameters ("application/json" for
// "Application/JSON; charset=utf-8"), without allocating for the usual
// lower-case value.
func MediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	for i := 0; i < len(ct); i++ {
		if c := ct[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(ct)
		}
	}
	return ct
}

// respBody is the upstream response body as the response stages share it.
type respBody struct {
	x       *Exchange
	resp    *http.Response
	state   BodyState
	raw     []byte // as the upstream sent it (encoded)
	decoded []byte // identity; aliases raw when not encoded
	rest    io.ReadCloser
	err     error
	rd      bodyReader // resp.Body once the body is buffered (setLength)
}

// bodyReader is a buffered body as resp.Body (kept in respBody: no
// allocation per answer).
type bodyReader struct{ bytes.Reader }

// Close does nothing: the bytes are the exchange's.
func (*bodyReader) Close() error { return nil }

// ResponseBody returns the body of the upstream response resp, decoded
// (identity or gzip), for a response stage to inspect. It is read at most
// once per exchange and shared by every response stage: the first call
// buffers it, later calls get the same bytes (or what SetResponseBody put
// there). At most max decoded bytes are buffered (max <= 0 means 1 MiB):
// a larger body, a stream or a body in an encoding the gateway does not
// decode is left to reach the client unchanged, and the state says why.
//
// Security: a gzip body is decoded under the same cap, so a small
// compressed body cannot expand into an unbounded buffer (a
// decompression bomb is BodyTooLarge).
func (x *Exchange) ResponseBody(resp *http.Response, max int64) ([]byte, BodyState, error) {
	if max <= 0 {
		max = 1 << 20
	}
	rb := x.resp
	if rb == nil || rb.resp != resp {
		rb = &respBody{x: x, resp: resp}
		x.resp = rb
		rb.read(max)
	} else if rb.state == BodyTooLarge && rb.rest != nil && int64(len(rb.raw)) <= max {
		// A later stage allows more than the first one did: read on.
		rb.readMore(max)
	}
	if rb.err != nil {
		return nil, rb.state, rb.err
	}
	if rb.state != BodyRead {
		return nil, rb.state, nil
	}
	if int64(len(rb.decoded)) > max {
		return nil, BodyTooLarge, nil
	}
	return rb.decoded, BodyRead, nil
}

func (rb *respBody) read(max int64) {
	resp := rb.resp
	if resp.Body == nil || resp.Body == http.NoBody {
		rb.state = BodyRead
		return
	}
	if Streamed(resp) {
		rb.state = BodyStreamed
		return
	}
	enc := strings.ToLower(strings.TrimSpace(HeaderValue(resp.Header, "Content-Encoding")))
	switch enc {
	case "", "identity", "gzip", "x-gzip":
	default:
		rb.state = BodyEncoded
		return
	}
	if resp.ContentLength > max {
		rb.state = BodyTooLarge
		return
	}
	rb.rest = resp.Body
	rb.readMore(max)
}

// readMore reads the body on, up to max+1 bytes in all, into a buffer
// sized from Content-Length when the upstream sent one.
func (rb *respBody) readMore(max int64) {
	resp := rb.resp
	b := rb.raw
	if b == nil {
		n := int64(512)
		if resp.ContentLength > 0 && resp.ContentLength <= max {
			n = resp.ContentLength + 1 // +1: the read that finds the end
		}
		b = rb.x.Buffer(int(n))
	}
	var err error
	for int64(len(b)) <= max {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow
		}
		var n int
		n, err = rb.rest.Read(b[len(b):min(int64(cap(b)), max+1)])
		b = b[:len(b)+n]
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		err = nil
	}
	rb.raw = b
	if err != nil {
		_ = rb.rest.Close()
		rb.rest = nil
		rb.err = errors.New("reading the upstream response: " + err.Error())
		resp.Body = http.NoBody
		return
	}
	if int64(len(rb.raw)) > max {
		// Too large: the client gets what was read and the rest, as sent.
		rb.state = BodyTooLarge
		resp.Body = &joinedBody{Reader: io.MultiReader(bytes.NewReader(rb.raw), rb.rest), c: rb.rest}
		return
	}
	_ = rb.rest.Close()
	rb.rest = nil
	rb.state = BodyRead
	rb.decoded = rb.raw
	if enc := strings.ToLower(strings.TrimSpace(HeaderValue(resp.Header, "Content-Encoding"))); enc == "gzip" || enc == "x-gzip" {
		dec, st := gunzip(rb.raw, max)
		if st != BodyRead {
			rb.state = st
			rb.decoded = nil
			resp.Body = io.NopCloser(bytes.NewReader(rb.raw))
			return
		}
		rb.decoded = dec
	}
	rb.setLength(rb.raw)
}

// gunzip decodes a gzip body of at most max decoded bytes.
func gunzip(raw []byte, max int64) ([]byte, BodyState) {
	if len(raw) == 0 {
		return nil, BodyRead
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, BodyEncoded
	}
	out, err := io.ReadAll(io.LimitReader(zr, max+1))
	if err != nil {
		return nil, BodyEncoded
	}
	if int64(len(out)) > max {
		return nil, BodyTooLarge
	}
	return out, BodyRead
}

// SetResponseBody replaces the body of resp (which ResponseBody read) with
// b, identity-encoded: Content-Encoding, Content-Length and the headers
// that describe the old bytes (ETag, digests) are fixed or removed, and
// later response stages see b.
func (x *Exchange) SetResponseBody(resp *http.Response, b []byte) {
	rb := x.resp
	if rb == nil || rb.resp != resp {
		rb = &respBody{x: x, resp: resp}
		x.resp = rb
	}
	if rb.rest != nil {
		_ = rb.rest.Close()
		rb.rest = nil
	}
	rb.state, rb.err = BodyRead, nil
	rb.raw, rb.decoded = b, b
	h := resp.Header
	delete(h, "Content-Encoding")
	// The validators and digests described the upstream's bytes.
	for _, k := range []string{"Etag", "Content-Md5", "Digest", "Content-Digest", "Repr-Digest"} {
		delete(h, k)
	}
	rb.setLength(b)
}

// setLength makes b the body of rb's response, identity-encoded, with its
// length.
func (rb *respBody) setLength(b []byte) {
	resp := rb.resp
	rb.rd.Reset(b)
	resp.Body = &rb.rd
	resp.ContentLength = int64(len(b))
	resp.TransferEncoding = nil
	var num [20]byte
	n := strconv.AppendInt(num[:0], int64(len(b)), 10)
	if v := resp.Header["Content-Length"]; len(v) != 1 || v[0] != string(n) {
		resp.Header["Content-Length"] = []string{string(n)}
	}
	resp.Uncompressed = false
}

// joinedBody reads the buffered head and the rest of a body, closing the
// rest.
type joinedBody struct {
	io.Reader
	c io.Closer
}

func (j *joinedBody) Close() error { return j.c.Close() }

// bufferPool recycles the buffers of answer bodies (Exchange.Buffer).
var bufferPool sync.Pool

// maxPooled is the largest buffer kept for reuse.
const maxPooled = 256 << 10

// Buffer returns an empty byte slice with room for at least n bytes, for
// a response stage to read or rewrite an answer body into. It is
// recycled when the exchange finishes (after the answer was written), so
// it must not be kept past that: the answer bodies of a busy gateway then
// cost no allocation, and the garbage collector no work.
func (x *Exchange) Buffer(n int) []byte {
	// The pool holds pointers, each kept with its buffer from Get to Put:
	// a reused buffer costs no allocation at all.
	p, ok := bufferPool.Get().(*[]byte)
	if !ok || cap(*p) < n {
		if ok {
			bufferPool.Put(p)
		}
		b := make([]byte, 0, max(n, 4096))
		p = &b
	}
	x.mu.Lock()
	if x.buffers == nil {
		x.buffers = x.bufs[:0]
	}
	x.buffers = append(x.buffers, p)
	x.mu.Unlock()
	return (*p)[:0]
}

// releaseBuffers gives the exchange's buffers back to the pool.
func (x *Exchange) releaseBuffers() {
	for i, p := range x.buffers {
		if cap(*p) <= maxPooled {
			*p = (*p)[:0]
			bufferPool.Put(p)
		}
		x.buffers[i] = nil
	}
	x.buffers = nil
}
