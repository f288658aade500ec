package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRefusedBodyIsAnsweredAndClosedAtOnce is the regression test for
// finding 9 of issue 11: a request refused while its announced body is
// still unread gets its answer at once and the connection closed, with no
// 100 Continue (read_timeout is an hour here: a held connection would hit
// the test's own deadline instead).
func TestRefusedBodyIsAnsweredAndClosedAtOnce(t *testing.T) {
	ts := httptest.NewServer(&recorder{})
	defer ts.Close()
	cfg := baseConfig(ts.URL)
	cfg.Server.TrustedProxies = []string{"127.0.0.1"}
	cfg.Server.ReadTimeout = time.Hour
	tg := start(t, cfg)
	for _, req := range []string{
		"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 200000\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 200000\r\nExpect: 100-continue\r\n\r\n",
		// Refused by ipfilter before anything reads the body.
		"POST /x HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.5\r\nContent-Length: 500\r\nExpect: 100-continue\r\n\r\n",
	} {
		t.Run(strings.Fields(req)[5], func(t *testing.T) {
			statuses, closed := exchangeRaw(t, tg.addr, req)
			if len(statuses) != 1 || statuses[0] != "413" && statuses[0] != "403" || !closed {
				t.Fatalf("%q: got statuses %v closed=%v, want one 413 (or 403) and the connection closed", req, statuses, closed)
			}
		})
	}
}

// exchangeRaw sends req and reads status lines until the server closes
// the connection (bounded by a 10s deadline).
func exchangeRaw(t *testing.T, addr, req string) (statuses []string, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return statuses, err == io.EOF
		}
		if strings.HasPrefix(l, "HTTP/1.1 ") {
			statuses = append(statuses, l[9:12])
		}
	}
}

// TestOneContinueAndNoExpectUpstream: a body the gateway reads gets one
// 100 Continue, from the gateway; the upstream never sees Expect, and a
// 100 it sends anyway does not reach the client.
func TestOneContinueAndNoExpectUpstream(t *testing.T) {
	var mu sync.Mutex
	var gotExpect []string
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				mu.Lock()
				gotExpect = append(gotExpect, req.Header.Get("Expect"))
				mu.Unlock()
				// An upstream that sends 100 Continue whatever it was asked.
				io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
				_, _ = io.Copy(io.Discard, req.Body)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
			}(c)
		}
	}()
	cfg := baseConfig("http://" + ln.Addr().String())
	tg := start(t, cfg)
	c, err := net.Dial("tcp", tg.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(c)
	l, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(l, "HTTP/1.1 100") {
		t.Fatalf("got %q %v, want the gateway's 100 Continue (the JSON body is read)", l, err)
	}
	for l != "\r\n" {
		l, _ = br.ReadString('\n')
	}
	io.WriteString(c, `{"a":1}`)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("got %d after the 100, want 200 (a second 100 reached the client?)", resp.StatusCode)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("the upstream's 1xx cleared the gateway's X-Request-Id")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(gotExpect) != 1 || gotExpect[0] != "" {
		t.Fatalf("upstream Expect: got %q, want none", gotExpect)
	}
}

// TestRefusedBodyAnswerReachesASendingClient: a client that sends its whole
// (too large) body before reading gets the 413, not a connection reset: the
// gateway reads and discards what it is still sending (up to lingerBytes)
// before closing, since closing with unread data resets the connection and
// can destroy the answer in the client's buffer.
func TestRefusedBodyAnswerReachesASendingClient(t *testing.T) {
	ts := httptest.NewServer(&recorder{})
	defer ts.Close()
	tg := start(t, baseConfig(ts.URL))
	body := strings.Repeat("a pet's vet notes, ", 200<<10/19) // ~200 KB against a 1 KB limit
	c := &http.Client{Timeout: 10 * time.Second}
	for i := range 30 {
		resp, err := c.Post("http://"+tg.addr+"/x", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("request %d: got %d, want 413", i, resp.StatusCode)
		}
	}
}
