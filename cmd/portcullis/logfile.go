package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// logFile is an append-only log file that can be reopened under the same
// name, which is how logrotate (and newsyslog, and most log shippers)
// expect a daemon to behave: they rename the file, then signal the daemon
// (SIGUSR1 here) to create a new one. Records written while the file is
// swapped are never lost: writers hold the read lock, Reopen the write
// lock, and the old file is closed only once no write uses it.
type logFile struct {
	path string
	mu   sync.RWMutex
	f    *os.File
}

// openLogFile opens (creating it and its directory when needed) path for
// appending. The file is 0640 and its directory 0750: access records hold
// client addresses and paths.
func openLogFile(path string) (*logFile, error) {
	l := &logFile{path: path}
	f, err := l.open()
	if err != nil {
		return nil, err
	}
	l.f = f
	return l, nil
}

func (l *logFile) open() (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(l.path), 0o750); err != nil {
		return nil, err
	}
	return os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
}

// Write appends p. Concurrent writes are safe (os.File serialises them
// with O_APPEND; slog handlers write one record per call).
func (l *logFile) Write(p []byte) (int, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.f.Write(p)
}

// Reopen opens the path again and switches to it. On error the old file
// stays in use, so nothing is lost; the error says why.
func (l *logFile) Reopen() error {
	f, err := l.open()
	if err != nil {
		return fmt.Errorf("reopening %s: %w", l.path, err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

// Close closes the file.
func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// newLogger is the gateway's own log: JSON lines on stderr at level
// ("debug", "info", "warn", "error"; anything else is info), the same as
// the gateway uses when it is given no logger.
func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
