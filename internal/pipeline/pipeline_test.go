package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestClientIP(t *testing.T) {
	tp, err := NewTrustedProxies([]string{"10.0.0.0/8", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, peer, xff, fwd, want string
	}{
		{"untrusted peer ignores xff", "198.51.100.7", "1.2.3.4", "", "198.51.100.7"},
		{"trusted peer, one hop", "127.0.0.1", "1.2.3.4", "", "1.2.3.4"},
		{"trusted chain walked from the right", "10.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.2", "", "1.2.3.4"},
		{"spoofed left part ignored", "127.0.0.1", "9.9.9.9, 1.2.3.4", "", "1.2.3.4"},
		{"garbled hop stops the walk", "127.0.0.1", "1.2.3.4, garbage", "", "127.0.0.1"},
		{"forwarded header wins", "127.0.0.1", "1.2.3.4", `for="[2001:db8::1]:443"`, "2001:db8::1"},
		{"ipv4 with port", "127.0.0.1", "1.2.3.4:5555", "", "1.2.3.4"},
		{"mapped v6 peer", "::ffff:127.0.0.1", "1.2.3.4", "", "1.2.3.4"},
		{"trusted peer, no header", "127.0.0.1", "", "", "127.0.0.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.fwd != "" {
				r.Header.Set("Forwarded", tc.fwd)
			}
			got := tp.ClientIP(r, netip.MustParseAddr(tc.peer).Unmap())
			if got.String() != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := NewTrustedProxies([]string{"not-a-cidr"}); err == nil {
		t.Fatal("want an error for a bad CIDR")
	}
}

func TestWriteProblemIsSafeAndCapped(t *testing.T) {
	d := &Denial{
		Status: 400, Reason: strings.Repeat("r", 500), Stage: "limits",
		Rules: []string{"x"}, Detail: "secret internals", Headers: http.Header{"Retry-After": {"3"}},
	}
	for i := 0; i < 50; i++ {
		d.Errors = append(d.Errors, FieldError{Pointer: "/a", Reason: "bad"})
	}
	w := httptest.NewRecorder()
	WriteProblem(w, d, "req-1")
	if w.Code != 400 {
		t.Fatalf("status: got %d, want 400", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type: got %q", ct)
	}
	if w.Header().Get("Retry-After") != "3" {
		t.Fatalf("denial headers not copied")
	}
	if strings.Contains(w.Body.String(), "secret internals") {
		t.Fatalf("detail leaked to the client: %s", w.Body)
	}
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) != maxProblemErrors {
		t.Fatalf("errors: got %d, want capped at %d", len(p.Errors), maxProblemErrors)
	}
	if len(p.Detail) > maxProblemReasonLen+4 {
		t.Fatalf("detail: got %d bytes, want capped", len(p.Detail))
	}
	if p.RequestID != "req-1" || p.Type != ProblemTypeBase+"bad-request" {
		t.Fatalf("problem: got %+v", p)
	}
}

func TestBodyReadOnceUnderLimit(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader("hello"))
	x := NewExchange(r, "id", time.Now())
	x.BodyLimit = 10
	b1, err := x.Body()
	if err != nil || string(b1) != "hello" {
		t.Fatalf("got %q %v, want hello", b1, err)
	}
	b2, _ := x.Body()
	if string(b2) != "hello" {
		t.Fatalf("second read: got %q", b2)
	}
	again, _ := io.ReadAll(r.Body)
	if string(again) != "hello" {
		t.Fatalf("proxy would send %q, want hello", again)
	}

	big := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("a", 11)))
	big.ContentLength = -1 // chunked: no length known up front
	x = NewExchange(big, "id", time.Now())
	x.BodyLimit = 10
	if _, err := x.Body(); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("got %v, want ErrBodyTooLarge", err)
	}
}

type stageFunc struct {
	id string
	f  func(*Exchange) (*Denial, error)
}

func (s stageFunc) ID() string { return s.id }
func (s stageFunc) Request(_ context.Context, x *Exchange) (*Denial, error) {
	return s.f(x)
}

func TestChainFailModes(t *testing.T) {
	reached := 0
	next := stageFunc{"next", func(*Exchange) (*Denial, error) { reached++; return nil, nil }}
	broken := stageFunc{"broken", func(*Exchange) (*Denial, error) { return nil, errors.New("redis down") }}
	deny := stageFunc{"deny", func(*Exchange) (*Denial, error) { return &Denial{Status: 403}, nil }}

	x := NewExchange(httptest.NewRequest("GET", "/", nil), "id", time.Now())
	if d := (Chain{{Stage: broken}, {Stage: next}}).Run(context.Background(), x); d == nil || d.Status != 503 || d.Stage != "broken" {
		t.Fatalf("fail closed: got %+v, want 503 from broken", d)
	}
	if reached != 0 {
		t.Fatal("a failed-closed stage let the exchange through")
	}
	if d := (Chain{{Stage: broken, FailOpen: true}, {Stage: next}}).Run(context.Background(), x); d != nil || reached != 1 {
		t.Fatalf("fail open: got %+v, reached %d", d, reached)
	}
	if len(x.Failures()) != 2 {
		t.Fatalf("failures recorded: got %d, want 2", len(x.Failures()))
	}
	if d := (Chain{{Stage: deny}, {Stage: next}}).Run(context.Background(), x); d == nil || d.Stage != "deny" || reached != 1 {
		t.Fatalf("denial: got %+v, reached %d", d, reached)
	}
}

// TestClientGoneIsNoFailure is the unit regression test for finding 4 of
// issue 11: a stage that fails because the request was cancelled (the
// client closed the connection or reset the stream) produces a quiet 499,
// and no failure is recorded, whether the chain fails open or closed.
func TestClientGoneIsNoFailure(t *testing.T) {
	canceled := stageFunc{"ratelimit.ip", func(x *Exchange) (*Denial, error) {
		return nil, fmt.Errorf("redis allow all: %w", x.Request.Context().Err())
	}}
	for _, failOpen := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		r := httptest.NewRequest("GET", "/x", nil).WithContext(ctx)
		x := NewExchange(r, "id", time.Now())
		cancel()
		d := Chain{{Stage: canceled, FailOpen: failOpen}}.Run(ctx, x)
		if d == nil || d.Status != StatusClientClosedRequest || !d.Quiet || d.Rules[0] != RuleClientClosed {
			t.Fatalf("failOpen=%v: got %+v, want a quiet 499", failOpen, d)
		}
		x.AddFailure("authn", errors.New("jwks: context canceled"))
		if f := x.Failures(); len(f) != 0 {
			t.Fatalf("failOpen=%v: got failures %v, want none", failOpen, f)
		}
	}
	// A deadline is not the client's doing: still a failure.
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-ctx.Done()
	r := httptest.NewRequest("GET", "/x", nil).WithContext(ctx)
	x := NewExchange(r, "id", time.Now())
	if d := (Chain{{Stage: canceled}}).Run(ctx, x); d == nil || d.Status != 503 || len(x.Failures()) != 1 {
		t.Fatalf("deadline: got %+v with %d failures, want 503 and one failure", d, len(x.Failures()))
	}
}

// TestHeaderKeyHelpers checks SameHeaderKey, HasHeaderKeyPrefix and
// AppendHeaderKey against HeaderKey itself.
func TestHeaderKeyHelpers(t *testing.T) {
	names := []string{"", "X-Principal-Id", "x_principal_id", "X.Principal~Id", "x-principal-", "X-Request-Id",
		"x-request_ID", "X-Real-IP", "x-real-ipx", "Content-Type", "content_type", "Ä-Header", "X-Forwarded-For",
		"x-forwarded-for", "Forwarded", "CF-Connecting-IP", "cf_connecting_ip", "a", "A", "-", "_", "X-Principal"}
	for _, a := range names {
		if got := string(AppendHeaderKey(nil, a)); got != HeaderKey(a) {
			t.Errorf("AppendHeaderKey(%q): got %q, want %q", a, got, HeaderKey(a))
		}
		for _, b := range names {
			if got, want := SameHeaderKey(a, b), HeaderKey(a) == HeaderKey(b); got != want {
				t.Errorf("SameHeaderKey(%q, %q): got %v, want %v", a, b, got, want)
			}
			p := HeaderKey(b)
			if got, want := HasHeaderKeyPrefix(a, p), strings.HasPrefix(HeaderKey(a), p); got != want {
				t.Errorf("HasHeaderKeyPrefix(%q, %q): got %v, want %v", a, p, got, want)
			}
		}
	}
	for name, want := range map[string]int{
		"X-Principal-Id": OwnedAlways, "x_principal_scopes": OwnedAlways, "X-Request-Id": OwnedAlways,
		"X_Real_IP": OwnedAlways, "X-Forwarded-Host": OwnedUnlessTrusted, "CF_Connecting_IP": OwnedUnlessTrusted,
		"Forwarded": OwnedUnlessTrusted, "X-Real-IPs": NotOwned, "X-Principal": NotOwned, "Content-Type": NotOwned,
		strings.Repeat("x", 100): NotOwned,
	} {
		if got := OwnedHeader(name); got != want {
			t.Errorf("OwnedHeader(%q): got %d, want %d", name, got, want)
		}
	}
}

// TestHeaderValues: the slices share one array, yet appending a value to
// one header's slice leaves the next header's value alone.
func TestHeaderValues(t *testing.T) {
	vals := NewHeaderValues(3)
	a, b := vals.One("a"), vals.One("b")
	if len(a) != 1 || a[0] != "a" || b[0] != "b" {
		t.Fatalf("a=%q b=%q", a, b)
	}
	if &vals[0] != &a[0] || &vals[1] != &b[0] {
		t.Fatal("the values are not in one array")
	}
	a = append(a, "a2")
	if b[0] != "b" || a[1] != "a2" {
		t.Fatalf("appending to a wrote into b: a=%q b=%q", a, b)
	}
	if n := testing.AllocsPerRun(100, func() {
		v := NewHeaderValues(5)
		for range 5 {
			_ = v.One("x")
		}
	}); n != 1 {
		t.Errorf("five values took %.0f allocations, want 1", n)
	}
}
