package limits

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
)

// target returns a request with the raw request target set as a server
// would set it.
func target(method, uri string) *http.Request {
	r := httptest.NewRequest(method, "/", nil)
	r.RequestURI = uri
	return r
}

func TestNormalizer(t *testing.T) {
	tests := []struct {
		name     string
		req      func() *http.Request
		rule     string // "" = must pass
		location string
		severity string
	}{
		{name: "plain", req: func() *http.Request { return target("GET", "/v1/pets/42?limit=10") }},
		{name: "space and unicode", req: func() *http.Request { return target("GET", "/v1/files/my%20file/%E6%97%A5%E6%9C%AC") }},
		{name: "dots in names", req: func() *http.Request { return target("GET", "/v1/files/a..b/my.report.pdf") }},
		{name: "encoded slash in query", req: func() *http.Request { return target("GET", "/v1/search?path=a%2Fb%2F..%2Fc&q=a+b") }},
		{name: "query unicode and tab", req: func() *http.Request { return target("GET", "/x?q=%E2%9C%93%09") }},
		{name: "query latin1", req: func() *http.Request { return target("GET", "/x?q=caf%E9") }},
		{name: "asterisk", req: func() *http.Request { return target("OPTIONS", "*") }},
		{name: "absolute form", req: func() *http.Request { return target("GET", "http://api.example/v1/pets?x=1") }},
		{name: "absolute form traversal", req: func() *http.Request { return target("GET", "http://api.example/v1/%2e%2e/admin") },
			rule: RulePathTraversal, location: "path", severity: "high"},
		{name: "built in code", req: func() *http.Request {
			r := httptest.NewRequest("GET", "/v1/%2e%2e/x", nil)
			r.RequestURI = ""
			return r
		}, rule: RulePathTraversal, location: "path", severity: "high"},
		{name: "chunked alone", req: func() *http.Request {
			r := target("POST", "/x")
			r.TransferEncoding = []string{"chunked"}
			return r
		}},
		{name: "content-length alone", req: func() *http.Request {
			r := target("POST", "/x")
			r.Header.Set("Content-Length", "10")
			return r
		}},

		{name: "traversal", req: func() *http.Request { return target("GET", "/v1/../admin") },
			rule: RulePathTraversal, location: "path", severity: "high"},
		{name: "double encoded traversal", req: func() *http.Request { return target("GET", "/v1/%252e%252e/admin") },
			rule: RulePathTraversal, location: "path", severity: "high"},
		{name: "tomcat traversal", req: func() *http.Request { return target("GET", "/v1/..;/admin") },
			rule: RulePathTraversal, location: "path", severity: "high"},
		{name: "backslash", req: func() *http.Request { return target("GET", "/v1/..%5cadmin") },
			rule: RulePathTraversal, location: "path", severity: "high"},
		{name: "overlong", req: func() *http.Request { return target("GET", "/v1/%c0%ae%c0%ae/admin") },
			rule: RulePathTraversal, location: "path", severity: "high"},
		{name: "path nul", req: func() *http.Request { return target("GET", "/v1/a%00.txt") },
			rule: RuleControlChar, location: "path", severity: "medium"},
		{name: "path bad escape", req: func() *http.Request { return target("GET", "/v1/%zz") },
			rule: RuleBadEncoding, location: "path", severity: "medium"},
		{name: "path invalid utf8", req: func() *http.Request { return target("GET", "/v1/%ff") },
			rule: RuleBadEncoding, location: "path", severity: "medium"},
		{name: "query bad escape", req: func() *http.Request { return target("GET", "/x?q=%zz") },
			rule: RuleBadEncoding, location: "query", severity: "medium"},
		{name: "query truncated escape", req: func() *http.Request { return target("GET", "/x?q=%4") },
			rule: RuleBadEncoding, location: "query", severity: "medium"},
		{name: "query nul", req: func() *http.Request { return target("GET", "/x?file=a.txt%00.jpg") },
			rule: RuleControlChar, location: "query", severity: "medium"},
		{name: "query crlf", req: func() *http.Request { return target("GET", "/x?next=%0d%0aSet-Cookie:a=b") },
			rule: RuleControlChar, location: "query", severity: "medium"},
		{name: "query raw control", req: func() *http.Request { return target("GET", "/x?q=a\x01") },
			rule: RuleControlChar, location: "query", severity: "medium"},

		{name: "te and cl", req: func() *http.Request {
			r := target("POST", "/x")
			r.TransferEncoding = []string{"chunked"}
			r.Header.Set("Content-Length", "10")
			return r
		}, rule: RuleAmbiguousLength, location: "header", severity: "high"},
		{name: "te not chunked", req: func() *http.Request {
			r := target("POST", "/x")
			r.TransferEncoding = []string{"gzip", "chunked"}
			return r
		}, rule: RuleAmbiguousLength, location: "header", severity: "high"},
		{name: "te identity", req: func() *http.Request {
			r := target("POST", "/x")
			r.TransferEncoding = []string{"identity"}
			return r
		}, rule: RuleAmbiguousLength, location: "header", severity: "high"},
		{name: "te header in map with cl", req: func() *http.Request {
			r := target("POST", "/x")
			r.Header["Transfer-Encoding"] = []string{"chunked"}
			r.Header.Set("Content-Length", "3")
			return r
		}, rule: RuleAmbiguousLength, location: "header", severity: "high"},
		{name: "conflicting cl", req: func() *http.Request {
			r := target("POST", "/x")
			r.Header["Content-Length"] = []string{"10", "20"}
			return r
		}, rule: RuleAmbiguousLength, location: "header", severity: "high"},
		{name: "repeated equal cl", req: func() *http.Request {
			r := target("POST", "/x")
			r.Header["Content-Length"] = []string{"10", "10"}
			return r
		}},

		{name: "h2 host equal to authority", req: func() *http.Request {
			r := target("GET", "/x")
			r.Host = "api.example"
			r.Header["Host"] = []string{"API.example"}
			return r
		}},
		{name: "host differing from authority", req: func() *http.Request {
			r := target("GET", "/x")
			r.Host = "api.example"
			r.Header["Host"] = []string{"evil.example"}
			return r
		}, rule: RuleDuplicateHost, location: "header:host", severity: "high"},
		{name: "two hosts", req: func() *http.Request {
			r := target("GET", "/x")
			r.Host = "api.example"
			r.Header["Host"] = []string{"api.example", "evil.example"}
			return r
		}, rule: RuleDuplicateHost, location: "header:host", severity: "high"},
		{name: "two hosts no authority", req: func() *http.Request {
			r := target("GET", "/x")
			r.Host = ""
			r.Header["Host"] = []string{"a.example", "a.example"}
			return r
		}, rule: RuleDuplicateHost, location: "header:host", severity: "high"},
	}
	n := NewNormalizer()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := n.Request(context.Background(), newExchange(tc.req()))
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if tc.rule == "" {
				if d != nil {
					t.Fatalf("got denial %+v, want none", d)
				}
				return
			}
			if d == nil {
				t.Fatalf("got no denial, want %s", tc.rule)
			}
			checkDenial(t, d, NormalizeID, tc.rule, http.StatusBadRequest, tc.location)
			if d.Severity != tc.severity {
				t.Errorf("got severity %q, want %q", d.Severity, tc.severity)
			}
		})
	}
}

// TestNormalizerBehindRealServer sends raw HTTP/1.1 requests to a real
// server whose handler runs the normaliser and the limiter the way the
// gateway does, and checks the problem responses end to end: what Go's
// parser already refuses, and what only the stages catch.
func TestNormalizerBehindRealServer(t *testing.T) {
	l, err := New(Config{MaxBodyBytes: 1000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	chain := pipeline.Chain{{Stage: NewNormalizer()}, {Stage: l}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := pipeline.NewExchange(r, "req-1", time.Now())
		x.BodyLimit = l.BodyLimit()
		if d := chain.Run(r.Context(), x); d != nil {
			pipeline.WriteProblem(w, d, x.ID)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	tests := []struct {
		name   string
		raw    string
		status int
		stage  bool // the answer is a problem from our stage, not Go's parser
	}{
		{"benign", "GET /v1/files/my%20report..v2.pdf?x=a%2Fb HTTP/1.1\r\nHost: t\r\n\r\n", 204, false},
		{"double encoded traversal", "GET /v1/%252e%252e/admin HTTP/1.1\r\nHost: t\r\n\r\n", 400, true},
		{"encoded traversal", "GET /v1/..%2f..%2fetc/passwd HTTP/1.1\r\nHost: t\r\n\r\n", 400, true},
		{"tomcat", "GET /v1/..;/admin HTTP/1.1\r\nHost: t\r\n\r\n", 400, true},
		{"overlong", "GET /v1/%c0%ae%c0%ae/admin HTTP/1.1\r\nHost: t\r\n\r\n", 400, true},
		{"nul", "GET /v1/a%00b HTTP/1.1\r\nHost: t\r\n\r\n", 400, true},
		{"query crlf", "GET /v1/a?n=%0d%0aX:y HTTP/1.1\r\nHost: t\r\n\r\n", 400, true},
		{"chunked too large", "POST /v1/up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" +
			strings.Repeat("a", 2000) + "\r\n0\r\n\r\n", 413, true},
		{"bad escape refused by go", "GET /v1/%zz HTTP/1.1\r\nHost: t\r\n\r\n", 400, false},
		{"two hosts refused by go", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, tc.raw); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("got status %d (%s), want %d", resp.StatusCode, body, tc.status)
			}
			if !tc.stage {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("got content type %q, want application/problem+json", ct)
			}
			var p pipeline.Problem
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("problem body %q: %v", body, err)
			}
			want := NormalizeID
			if tc.status == http.StatusRequestEntityTooLarge {
				want = ID // the body limit is the Limiter's
			}
			if p.Stage != want || p.RequestID != "req-1" {
				t.Errorf("got stage %q request id %q, want %q req-1", p.Stage, p.RequestID, want)
			}
			for _, leak := range []string{"admin", "%", "passwd", "X:y"} {
				if strings.Contains(string(body), leak) {
					t.Errorf("problem %s echoes request data %q", body, leak)
				}
			}
		})
	}
}
