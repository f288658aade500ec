package scan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// The checks of the ssrf group.
var (
	checkSsrfCanary = define(CheckInfo{ID: "ssrf.canary", Group: "ssrf", OWASP: OWASPSSRF, CWE: 918, Severity: SeverityHigh,
		Title:       "Server-side request forgery: the API fetched a URL given in input",
		Remediation: "Fetch only allow-listed hosts, resolve and refuse internal addresses, and do not follow redirects."})
)

var _ = runs("ssrf", func(ctx context.Context, s *scanner) { runSSRF(ctx, s) })

// canary is the listener SSRF probes point at: a target that fetches a
// probe's URL shows up here with the probe's token in the path.
type canary struct {
	srv  *http.Server
	ln   net.Listener
	base string

	mu   sync.Mutex
	hits map[string]chan struct{}
}

func startCanary(c Canary) (*canary, error) {
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return nil, err
	}
	k := &canary{ln: ln, hits: map[string]chan struct{}{}, base: strings.TrimSuffix(c.URL, "/")}
	if k.base == "" {
		k.base = "http://" + ln.Addr().String()
	}
	k.srv = &http.Server{Handler: http.HandlerFunc(k.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = k.srv.Serve(ln) }()
	return k, nil
}

func (k *canary) serve(w http.ResponseWriter, r *http.Request) {
	if tok, ok := strings.CutPrefix(r.URL.Path, "/pcscan-ssrf/"); ok {
		k.mu.Lock()
		if ch, ok := k.hits[tok]; ok {
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
		k.mu.Unlock()
	}
	if strings.HasSuffix(r.URL.Path, ".png") {
		// What a URL member of a planned request points at (fillURLs): an
		// API that downloads images gets a valid one.
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(canaryPNG)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("portcullis scan canary\n"))
}

// canaryPNG is a 1×1 transparent PNG.
var canaryPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

// url returns a fresh canary URL and a channel closed when it is fetched.
func (k *canary) url() (string, <-chan struct{}) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	ch := make(chan struct{})
	k.mu.Lock()
	k.hits[tok] = ch
	k.mu.Unlock()
	return k.base + "/pcscan-ssrf/" + tok, ch
}

func (k *canary) close() { _ = k.srv.Close() }

// urlParam names parameters that likely carry a URL.
var urlParam = regexp.MustCompile(`(?i)(url|uri|link|href|callback|webhook|redirect|return|next|dest|target|image|img|avatar|feed|fetch|proxy|endpoint|site|src)`)

func urlLike(loc location, value string) bool {
	if f, _ := loc.schema["format"].(string); f == "uri" || f == "url" || f == "iri" {
		return true
	}
	name := loc.name
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	return urlParam.MatchString(name) || strings.HasPrefix(value, "http://") || strings.HasPrefix(value, "https://")
}

// runSSRF points URL-like locations at the canary and waits a second for
// the target to fetch it. It needs nothing of the scan but the prober.
func runSSRF(ctx context.Context, p prober) {
	if _, _, ok := p.canaryURL(); !ok {
		return
	}
	p.eachOp(ctx, func(ctx context.Context, o *opState) {
		if !o.res.ok() && o.res.status != http.StatusBadRequest {
			return
		}
		for _, loc := range o.req.locations() {
			if !loc.stringy() || !urlLike(loc, o.req.get(loc)) {
				continue
			}
			u, hit, _ := p.canaryURL()
			res := p.probe(ctx, o, loc, u)
			if gatewayRefusal(res) {
				p.reportBlocked(checkSsrfCanary, o, loc.String(), res)
				continue
			}
			t := time.NewTimer(time.Second)
			select {
			case <-hit:
				p.report(checkSsrfCanary, o, loc.String(), ConfidenceCertain, p.evidence(res,
					fmt.Sprintf("the canary received %s, the URL the target was asked to fetch", u)))
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
	})
}
