// Package redistest runs a real redis-server for tests: on a free loopback
// port, without persistence, stopped when the test ends. It can be stopped
// and started again on the same port to test outages.
//
// redis-server must be on PATH (scripts/test-deps.sh installs it). When it
// is missing the test fails, unless PORTCULLIS_SKIP_REDIS=1 is set, in which
// case it is skipped: CI never sets it, so CI never skips.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is one redis-server process.
type Server struct {
	t    testing.TB
	port int
	dir  string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start starts a redis-server on a free loopback port and registers its
// stop with t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("PORTCULLIS_SKIP_REDIS") == "1" {
			t.Skip("redis-server not installed (PORTCULLIS_SKIP_REDIS=1)")
		}
		t.Fatal("redis-server not found on PATH: run scripts/test-deps.sh (or apt-get install redis-server)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{t: t, port: port, dir: t.TempDir()}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is the redis:// URL of database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Restart starts the server again after Stop (on the same port, empty).
// It returns once the server accepts connections.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning")
	// Output is discarded: startup banners and warnings would drown test
	// logs; a server that does not start is reported by the wait below.
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pong(s.Addr()) {
			return
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			s.cmd = nil
			s.t.Fatalf("redis-server on %s did not answer within 10s", s.Addr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (like a crash: no shutdown save) and waits for it
// to exit. Safe to call when stopped.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// FlushAll empties every database.
func (s *Server) FlushAll() {
	s.t.Helper()
	if err := s.command("FLUSHALL"); err != nil {
		s.t.Fatalf("redis FLUSHALL: %v", err)
	}
}

func pong(addr string) bool {
	return command(addr, "PING") == nil
}

func (s *Server) command(args ...string) error { return command(s.Addr(), args...) }

// command sends one RESP command and checks for a non-error reply.
func command(addr string, args ...string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.HasPrefix(line, "-") {
		return fmt.Errorf("%s", strings.TrimSpace(line[1:]))
	}
	return nil
}
