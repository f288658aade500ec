// Command bareproxy is the benchmark's baseline: a bare
// httputil.ReverseProxy with a tuned transport and nothing else, so the
// Portcullis rows can be read as "the price of the security stages".
//
// Usage: bareproxy [-addr 127.0.0.1:8082] [-upstream http://127.0.0.1:8081]
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
)

func proxy(target *url.URL) *httputil.ReverseProxy {
	// The same pool sizes Portcullis is configured with in
	// bench/portcullis.yaml, so neither side wins by reusing more
	// connections.
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ForceAttemptHTTP2:     false,
	}
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.SetXForwarded()
		},
		Transport: transport,
	}
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
	addr := flag.String("addr", "127.0.0.1:8082", "host:port to listen on")
	upstream := flag.String("upstream", "http://127.0.0.1:8081", "base URL of the upstream")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil || target.Scheme == "" || target.Host == "" {
		log.Fatalf("bareproxy: -upstream %q is not an absolute URL", *upstream)
	}
	srv := &http.Server{
		Addr:              *addr,
		Handler:           proxy(target),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	log.Printf("bareproxy listening on %s, proxying to %s", *addr, target)
	log.Fatal(srv.ListenAndServe())
}
