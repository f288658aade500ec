package events

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// spool is an append-only file of events (one JSON line each) waiting for
// a sink that is down, read back from an offset in order. It is not safe
// for concurrent use: the Postgres sink serialises access.
type spool struct {
	f      *os.File
	max    int64
	size   int64 // bytes in the file
	off    int64 // bytes already replayed
	events int64 // events not yet replayed
	buf    bytes.Buffer
}

var errSpoolFull = errors.New("spool full")

func openSpool(path string, max int64) (*spool, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &spool{f: f, max: max}
	// Count what an earlier run left, and cut a torn last line.
	r := bufio.NewReader(f)
	var good int64
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("spool: %w", err)
		}
		good += int64(len(line))
		s.events++
	}
	if err := f.Truncate(good); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("spool: %w", err)
	}
	s.size = good
	return s, nil
}

// append adds batch at the end with one write.
func (s *spool) append(batch []Event) error {
	s.buf.Reset()
	enc := json.NewEncoder(&s.buf)
	enc.SetEscapeHTML(false)
	for i := range batch {
		if err := encodeEvent(enc, &s.buf, &batch[i]); err != nil {
			return err
		}
	}
	if s.size+int64(s.buf.Len()) > s.max {
		return fmt.Errorf("%w (%d bytes)", errSpoolFull, s.max)
	}
	if _, err := s.f.WriteAt(s.buf.Bytes(), s.size); err != nil {
		_ = s.f.Truncate(s.size)
		return err
	}
	s.size += int64(s.buf.Len())
	s.events += int64(len(batch))
	return nil
}

// read returns up to n events from the replay offset and the offset after
// them. It does not advance: advance does, once they are stored.
func (s *spool) read(n int) ([]Event, int64, error) {
	if s.off >= s.size {
		return nil, s.off, nil
	}
	r := bufio.NewReader(io.NewSectionReader(s.f, s.off, s.size-s.off))
	var out []Event
	next := s.off
	for len(out) < n {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		next += int64(len(line))
		var e Event
		if err := json.Unmarshal(line, &e); err != nil {
			// Unreadable: keep it out of the way rather than stall the
			// spool forever. It cannot be stored anywhere.
			continue
		}
		out = append(out, e)
	}
	return out, next, nil
}

func (s *spool) advance(next int64, n int) {
	s.off = next
	s.events -= int64(n)
	if s.events < 0 {
		s.events = 0
	}
}

// reset empties the file once everything was replayed.
func (s *spool) reset() error {
	if s.off < s.size {
		return nil
	}
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	s.size, s.off, s.events = 0, 0, 0
	return nil
}

func (s *spool) close() error { return s.f.Close() }
