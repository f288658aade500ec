// Package pgtest starts a real PostgreSQL server for tests: Debian's
// postgres binaries, initdb into a temporary directory, listening only on
// a free loopback port, stopped when the test ends. As root (CI), the
// server runs as the postgres user, since PostgreSQL refuses to run as
// root. Without the binaries the test is skipped, or fails under CI
// (scripts/test-deps.sh installs them).
package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Server is one running PostgreSQL.
type Server struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	log  *bytes.Buffer
	exit chan struct{}
}

// BinDir returns the directory of initdb and postgres, or "".
func BinDir() string {
	if d := os.Getenv("PORTCULLIS_PG_BIN"); d != "" {
		return d
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(matches) == 0 {
		if p, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p)
		}
		return ""
	}
	return filepath.Dir(matches[len(matches)-1])
}

// Start initialises a database cluster and starts PostgreSQL on a free
// loopback port.
func Start(t *testing.T) *Server {
	t.Helper()
	bin := BinDir()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("postgres not found (scripts/test-deps.sh installs postgresql)")
		}
		t.Skip("postgres not found; install postgresql (scripts/test-deps.sh)")
	}
	dir, err := os.MkdirTemp("", "portcullis-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	s := &Server{t: t, bin: bin, dir: data, log: &bytes.Buffer{}}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	out, err := s.command(filepath.Join(bin, "initdb"), "-D", data, "-U", "portcullis", "--auth=trust",
		"--no-sync", "-E", "UTF8", "--locale=C").CombinedOutput()
	if err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	// Its own process group, so that Kill takes the backends down with the
	// postmaster, as a crashed host would.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() == 0 {
		u, _ := user.Lookup("postgres")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	cmd.Dir = filepath.Dir(s.dir)
	return cmd
}

func (s *Server) start() {
	s.t.Helper()
	s.log.Reset()
	s.cmd = s.command(filepath.Join(s.bin, "postgres"), "-D", s.dir, "-h", "127.0.0.1", "-p", strconv.Itoa(s.port),
		"-k", filepath.Dir(s.dir), "-c", "fsync=off", "-c", "full_page_writes=off")
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting postgres: %v", err)
	}
	s.exit = make(chan struct{})
	cmd, exit := s.cmd, s.exit
	go func() { _ = cmd.Wait(); close(exit) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			c.Close()
			// Accepting TCP is not yet accepting queries: ask pg_isready.
			if exec.Command(filepath.Join(s.bin, "pg_isready"), "-h", "127.0.0.1", "-p", strconv.Itoa(s.port)).Run() == nil {
				return
			}
		}
		select {
		case <-exit:
			s.t.Fatalf("postgres exited at start:\n%s", s.log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("postgres did not start:\n%s", s.log.String())
		}
	}
}

// Addr is host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is a connection string to the "postgres" database.
func (s *Server) URL() string {
	return fmt.Sprintf("postgres://portcullis@%s/postgres?sslmode=disable", s.Addr())
}

// Kill stops the server at once (SIGKILL: no shutdown checkpoint), as a
// crash or an unplugged database host would.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exit
	s.cmd = nil
}

// Restart starts the server again on the same data and port.
func (s *Server) Restart() {
	s.t.Helper()
	// A killed postmaster leaves postmaster.pid; PostgreSQL checks whether
	// that pid still runs and starts anyway when it does not.
	s.start()
}

// Stop shuts the server down (fast mode).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exit:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exit
	}
	s.cmd = nil
}

// Exec runs SQL through psql, for assertions that must not go through the
// code under test.
func (s *Server) Exec(ctx context.Context, sql string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, "psql"), "-X", "-A", "-t", "-h", "127.0.0.1", "-p", strconv.Itoa(s.port),
		"-U", "portcullis", "-d", "postgres", "-c", sql)
	out, err := cmd.CombinedOutput()
	return string(bytes.TrimSpace(out)), err
}
