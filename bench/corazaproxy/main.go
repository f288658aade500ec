// Command corazaproxy is the waf benchmark's baseline: a plain
// httputil.ReverseProxy (the same one as bench/bareproxy) wrapped in
// Coraza's standard net/http middleware with the OWASP CRS v4 at the same
// paranoia level as Portcullis's waf rows. Coraza parses the request body
// itself (its JSON, urlencoded, multipart and XML processors).
//
// Usage: corazaproxy [-addr 127.0.0.1:8083] [-upstream http://127.0.0.1:8081] [-paranoia 1]
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime/debug"
	"time"

	"github.com/corazawaf/coraza/v3"
	corazahttp "github.com/corazawaf/coraza/v3/http"

	"github.com/portcullis/portcullis/internal/stage/waf"
)

// handler returns the proxy to target behind a Coraza WAF with the CRS.
func handler(target *url.URL, paranoia int) (http.Handler, error) {
	w, err := coraza.NewWAF(coraza.NewWAFConfig().
		WithRootFS(waf.BaselineFS()).
		WithDirectives(waf.BaselineDirectives(paranoia)))
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.SetXForwarded()
		},
		Transport: transport,
	}
	return corazahttp.WrapHandler(w, rp), nil
}

// gcPercent is the collector target Portcullis runs with by default
// (server.gc_percent, config.DefaultGCPercent; TestSameCollectorTarget),
// so that neither side of a ratio wins by collecting less often: at Go's
// default of 100 a proxy whose live heap is small collects every few dozen
// requests (its heap target never drops below 4 MB), which cost the bare
// proxy ~20 µs of CPU per free-text GET on the bench machine. GOGC in the
// environment still wins.
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	addr := flag.String("addr", "127.0.0.1:8083", "host:port to listen on")
	upstream := flag.String("upstream", "http://127.0.0.1:8081", "base URL of the upstream")
	paranoia := flag.Int("paranoia", 1, "CRS paranoia level (1-4)")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil || target.Scheme == "" || target.Host == "" {
		log.Fatalf("corazaproxy: -upstream %q is not an absolute URL", *upstream)
	}
	h, err := handler(target, *paranoia)
	if err != nil {
		log.Fatalf("corazaproxy: %v", err)
	}
	srv := &http.Server{
		Addr:              *addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	log.Printf("corazaproxy listening on %s, proxying to %s (CRS paranoia %d)", *addr, target, *paranoia)
	log.Fatal(srv.ListenAndServe())
}
