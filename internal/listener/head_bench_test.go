package listener

import "testing"

// BenchmarkParseHead: the head of a GET with a JWT, as bench/run.sh sends it.
func BenchmarkParseHead(b *testing.B) {
	h := []byte("GET /bench HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Go-http-client/1.1\r\nAuthorization: Bearer eyJhbGciOiJFUzI1NiIsImtpZCI6ImJlbmNoLTEifQ.eyJhdWQiOiJiZW5jaCIsImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzA0MDY3MjAwLCJpc3MiOiJodHRwczovL2JlbmNoLnBvcnRjdWxsaXMuZGV2Iiwicm9sZXMiOlsidXNlciJdLCJzY29wZSI6ImJlbmNoOnJlYWQgYmVuY2g6d3JpdGUiLCJzdWIiOiJiZW5jaCJ9.tReH6FeHik6IqFYWLmFeizc389tRaEfIMOxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\nAccept-Encoding: gzip\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, a := parseHead(h, false); a != nil {
			b.Fatal(a)
		}
	}
}
