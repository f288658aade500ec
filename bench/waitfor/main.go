// Command waitfor polls a loopback URL until it answers with any HTTP
// response, or gives up after -timeout with exit status 1.
//
// Usage: waitfor -url http://127.0.0.1:8081/healthz [-timeout 15s]
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

func main() {
	target := flag.String("url", "", "URL to poll (loopback only)")
	timeout := flag.Duration("timeout", 15*time.Second, "how long to wait in total")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		fmt.Fprintf(os.Stderr, "waitfor: -url %q is not an http(s) URL\n", *target)
		os.Exit(2)
	}
	if h := u.Hostname(); h != "localhost" {
		if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
			fmt.Fprintf(os.Stderr, "waitfor: %s is not a loopback address\n", h)
			os.Exit(2)
		}
	}
	client := &http.Client{
		Timeout:       time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	deadline := time.Now().Add(*timeout)
	var last error
	for time.Now().Before(deadline) {
		resp, err := client.Get(u.String())
		if err == nil {
			resp.Body.Close()
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "waitfor: %s did not answer within %s: %v\n", u, *timeout, last)
	os.Exit(1)
}
