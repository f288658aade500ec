// Command upstream is the benchmark's origin server: as fast as net/http
// allows, so that what the benchmark measures is the proxy in front of it.
//
//	GET  /bench        → a small fixed JSON document
//	POST /bench        → {"received":N}, N being the body length in bytes
//	GET  /bench/users  → a realistic 4 KB page of customer records
//	                     (users.json), each with an internal member the
//	                     description does not declare
//	POST /v1/traces   → an OTLP/HTTP trace receiver that discards (the tracing row)
//
// Usage: upstream [-addr 127.0.0.1:8081]
package main

import (
	_ "embed"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"time"
)

// maxBody caps what POST /bench reads; the rest is not read.
const maxBody = 16 << 20

var getBody = []byte(`{"ok":true,"service":"bench-upstream","items":[1,2,3,4,5],"message":"hello from the benchmark upstream"}`)

var jsonType = []string{"application/json"}

//go:embed users.json
var usersBody []byte

func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bench", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = jsonType
		h["Content-Length"] = []string{strconv.Itoa(len(getBody))}
		_, _ = w.Write(getBody)
	})
	mux.HandleFunc("POST /bench", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		body := fmt.Appendf(nil, `{"received":%d}`, n)
		h := w.Header()
		h["Content-Type"] = jsonType
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		_, _ = w.Write(body)
	})
	mux.HandleFunc("GET /bench/users", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = jsonType
		h["Content-Length"] = []string{strconv.Itoa(len(usersBody))}
		_, _ = w.Write(usersBody)
	})
	// An OTLP/HTTP trace receiver for the tracing row: it reads each
	// export and answers an empty ExportTraceServiceResponse (zero bytes
	// in protobuf), as a collector that keeps up would.
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxBody))
		w.Header()["Content-Type"] = []string{"application/x-protobuf"}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = jsonType
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	return mux
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "host:port to listen on")
	flag.Parse()
	srv := &http.Server{
		Addr:              *addr,
		Handler:           handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	log.Printf("upstream listening on %s", *addr)
	log.Fatal(srv.ListenAndServe())
}
