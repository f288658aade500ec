package proxy

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// ownedNames are the gateway-owned request headers, in their usual
// spelling (the principal headers authn forwards, the id, the connection
// headers proxies and CDNs set).
var ownedNames = []string{
	"X-Principal-Id", "X-Principal-Kind", "X-Principal-Tier", "X-Principal-Scopes", "X-Principal-Roles", "X-Principal-Admin",
	"X-Request-Id", "X-Real-IP", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port",
	"X-Forwarded-Prefix", "X-Forwarded-Server", "X-Forwarded-Ssl", "X-Forwarded-Uri", "Forwarded", "X-Forwarded",
	"True-Client-IP", "X-Client-IP", "Client-IP", "CF-Connecting-IP", "Fastly-Client-IP", "X-Cluster-Client-IP",
	"X-Originating-IP", "X-Remote-IP", "X-Remote-Addr", "X-Original-Forwarded-For", "X-Envoy-External-Address",
}

// spell returns another spelling of name that a CGI-style upstream reads
// as the same header: every letter's case and every '-' chosen by rng
// ('-', '_', '.', '~', '!' ...).
func spell(name string, rng *rand.Rand) string {
	seps := []byte("-_.~!#$%&'*+^`|")
	b := []byte(name)
	for i, c := range b {
		switch {
		case c == '-':
			b[i] = seps[rng.IntN(len(seps))]
		case c >= 'a' && c <= 'z' && rng.IntN(2) == 0:
			b[i] = c - 32
		case c >= 'A' && c <= 'Z' && rng.IntN(2) == 0:
			b[i] = c + 32
		}
	}
	return string(b)
}

// cgiUpstream records the headers it gets the way WSGI and CGI name them:
// each name's HeaderKey ('_' and '-' alike, any case), all values.
type cgiUpstream struct {
	mu   sync.Mutex
	last map[string][]string
}

func (c *cgiUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	env := map[string][]string{}
	for k, vs := range r.Header {
		key := pipeline.HeaderKey(k)
		env[key] = append(env[key], vs...)
	}
	c.mu.Lock()
	c.last = env
	c.mu.Unlock()
	_ = json.NewEncoder(w).Encode(env)
}

func (c *cgiUpstream) seen() map[string][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// TestOwnedHeadersEverySpelling is the property test for findings 2 and
// 8 of issue 11: whatever spelling a client uses for a header the gateway
// owns, a CGI-style upstream never reads the client's value under it; the
// gateway's own values (principal, id, client address) are the only ones
// it sees. From a trusted proxy, the canonical spellings of the
// connection headers pass; the odd spellings never do.
func TestOwnedHeadersEverySpelling(t *testing.T) {
	cgi := &cgiUpstream{}
	up := httptest.NewServer(cgi)
	defer up.Close()
	u := newUpstream(t, config.Upstream{Targets: []string{up.URL}}, Options{})
	rng := rand.New(rand.NewPCG(11, 2))
	for round := 0; round < 200; round++ {
		p := untrusted
		if round%4 == 3 {
			p = peer{addr: "10.0.0.2:4000", trusted: true}
		}
		r := httptest.NewRequest("GET", "http://api.example/x", nil)
		for _, n := range ownedNames {
			for k := 0; k < 3; k++ {
				s := n
				if round > 0 || k > 0 {
					s = spell(n, rng)
				}
				v := "odd"
				if pipeline.CanonicalName(s) {
					v = "canonical"
				}
				r.Header[s] = append(r.Header[s], v)
			}
		}
		r.Header.Set("Connection", "X-Principal-Id, X-Request-Id, X-Real-IP, Content-Type")
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = p.addr
		x := pipeline.NewExchange(r, "req-42", time.Now())
		x.Peer = pipeline.PeerAddr(r)
		x.TrustedPeer = p.trusted
		x.ClientIP = x.Peer
		x.SetUpstreamHeader("X-Principal-Id", "alice")
		w := httptest.NewRecorder()
		if out := u.Serve(w, r.WithContext(pipeline.WithExchange(r.Context(), x))); out.Denial != nil {
			t.Fatalf("round %d: %+v", round, out.Denial)
		}
		env := cgi.seen()
		for _, n := range ownedNames {
			for _, v := range env[pipeline.HeaderKey(n)] {
				switch {
				case v == "odd":
					t.Fatalf("round %d: an odd spelling of %s reached the upstream: %v", round, n, r.Header)
				case v == "canonical" && !(p.trusted && pipeline.OwnedHeader(n) == pipeline.OwnedUnlessTrusted &&
					// X-Forwarded-For/Host/Proto and Forwarded are rebuilt,
					// never passed as sent.
					!rebuilt[pipeline.HeaderKey(n)]):
					t.Fatalf("round %d (trusted %v): the client's %s reached the upstream", round, p.trusted, n)
				}
			}
		}
		want := map[string]string{"x-principal-id": "alice", "x-request-id": "req-42", "x-real-ip": x.ClientIP.String(), "content-type": "application/json"}
		for k, v := range want {
			if got := env[k]; len(got) != 1 || got[0] != v {
				t.Fatalf("round %d: %s: got %q, want [%q]", round, k, got, v)
			}
		}
	}
}

// rebuilt are the connection headers the proxy builds itself (extending a
// trusted proxy's value), by HeaderKey.
var rebuilt = map[string]bool{"x-forwarded-for": true, "x-forwarded-host": true, "x-forwarded-proto": true, "forwarded": true}

// FuzzOwnedHeaderSpelling: for any header name, if a CGI-style upstream
// would read it as a header the gateway owns, the client's value never
// reaches the upstream from an untrusted peer.
func FuzzOwnedHeaderSpelling(f *testing.F) {
	for _, n := range ownedNames {
		f.Add(n)
		f.Add(strings.ReplaceAll(n, "-", "_"))
	}
	f.Add("x.principal.id")
	f.Add("X-PRINCIPAL~TIER")
	cgi := &cgiUpstream{}
	up := httptest.NewServer(cgi)
	defer up.Close()
	u, err := New("fuzz", config.Upstream{Targets: []string{up.URL}}, Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer u.Close()
	f.Fuzz(func(t *testing.T, name string) {
		if !httpguts.ValidHeaderFieldName(name) || pipeline.OwnedHeader(name) == pipeline.NotOwned {
			return
		}
		r := httptest.NewRequest("GET", "http://api.example/x", nil)
		r.Header[name] = []string{"spoofed"}
		r.RemoteAddr = untrusted.addr
		x := pipeline.NewExchange(r, "req-1", time.Now())
		x.Peer = pipeline.PeerAddr(r)
		x.ClientIP = x.Peer
		u.Serve(httptest.NewRecorder(), r.WithContext(pipeline.WithExchange(r.Context(), x)))
		for _, v := range cgi.seen()[pipeline.HeaderKey(name)] {
			if v == "spoofed" {
				t.Fatalf("%q reached the upstream", name)
			}
		}
	})
}

// TestConnectionCannotDropWhatTheGatewayVouchesFor: Connection may remove
// hop-by-hop headers and the client's own extras, never a header the
// gateway set or validated.
func TestConnectionCannotDropWhatTheGatewayVouchesFor(t *testing.T) {
	up := echoServer(t)
	u := newUpstream(t, config.Upstream{Targets: []string{up.URL}}, Options{})
	r := httptest.NewRequest("POST", "/pets", strings.NewReader(`{"a":1}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Cookie", "s=1")
	r.Header.Set("Origin", "https://app.example")
	r.Header.Set("X-Extra", "dropped")
	r.Header.Set("Connection", "X-Principal-Id, x_principal_id, Content-Type, X-Request-Id, X-Forwarded-For, X-Real-IP, Cookie, Origin, X-Extra, keep-alive")
	r.RemoteAddr = untrusted.addr
	x := pipeline.NewExchange(r, "req-42", time.Now())
	x.Peer = pipeline.PeerAddr(r)
	x.ClientIP = x.Peer
	x.SetUpstreamHeader("X-Principal-Id", "alice")
	w := httptest.NewRecorder()
	u.Serve(w, r.WithContext(pipeline.WithExchange(r.Context(), x)))
	h := decodeEcho(t, w).Header
	for k, want := range map[string]string{"X-Principal-Id": "alice", "Content-Type": "application/json", "X-Request-Id": "req-42",
		"X-Forwarded-For": "203.0.113.7", "X-Real-Ip": "203.0.113.7", "Cookie": "s=1", "Origin": "https://app.example"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	if h.Get("X-Extra") != "" {
		t.Errorf("X-Extra, named in Connection, reached the upstream")
	}
}
