package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// JSONL is a sink that appends one JSON object per event and line to a file.
// It writes each batch with a single write call and does not fsync (the OS
// flushes; events are also in the SQLite store when that is on). It is safe
// for concurrent use.
type JSONL struct {
	path string

	mu  sync.Mutex
	f   *os.File // nil once closed
	buf bytes.Buffer
}

var _ Sink = (*JSONL)(nil)

// jsonlPerm keeps the event log private to the gateway's user: events carry
// client addresses, principals and attack excerpts.
const jsonlPerm = 0o600

// NewJSONL opens path for appending, creating it (mode 0600) and its parent
// directories (mode 0700) when missing.
func NewJSONL(path string) (*JSONL, error) {
	f, err := openJSONL(path)
	if err != nil {
		return nil, err
	}
	return &JSONL{path: path, f: f}, nil
}

func openJSONL(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating event log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, jsonlPerm)
	if err != nil {
		return nil, fmt.Errorf("opening event log: %w", err)
	}
	return f, nil
}

// Name returns "jsonl".
func (j *JSONL) Name() string { return "jsonl" }

// Path returns the file path the sink writes to.
func (j *JSONL) Path() string { return j.path }

// Write appends batch, one line per event. An event whose Attrs cannot be
// encoded is still written, with Attrs replaced by
// {"_encode_error": "..."}, so it is never lost. If the file write fails
// part-way, the file is truncated back to where the batch started, so a
// retry does not leave a broken or duplicated line.
func (j *JSONL) Write(_ context.Context, batch []Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("writing event log: sink closed")
	}
	j.buf.Reset()
	enc := json.NewEncoder(&j.buf)
	// Excerpts are attack payloads; keep them readable in the log rather
	// than \u003c-escaped. The file is never served as HTML.
	enc.SetEscapeHTML(false)
	for i := range batch {
		if err := encodeEvent(enc, &j.buf, &batch[i]); err != nil {
			return fmt.Errorf("encoding event %s: %w", batch[i].ID, err)
		}
	}
	start, err := j.f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("writing event log: %w", err)
	}
	if _, err := j.f.Write(j.buf.Bytes()); err != nil {
		if terr := j.f.Truncate(start); terr != nil {
			err = errors.Join(err, fmt.Errorf("truncating partial write: %w", terr))
		}
		return fmt.Errorf("writing event log: %w", err)
	}
	if j.buf.Cap() > 1<<20 {
		j.buf = bytes.Buffer{} // don't pin a huge buffer after a burst
	}
	return nil
}

// encodeEvent appends e to buf as one line. When e cannot be encoded (an
// Attrs value JSON cannot represent), it encodes e with Attrs replaced by
// the error.
func encodeEvent(enc *json.Encoder, buf *bytes.Buffer, e *Event) error {
	n := buf.Len()
	err := enc.Encode(e)
	if err == nil {
		return nil
	}
	buf.Truncate(n)
	c := *e
	c.Attrs = map[string]any{"_encode_error": err.Error()}
	return enc.Encode(&c)
}

// Reopen closes the file and opens path again, for log rotation: rename the
// file, then call Reopen (on SIGHUP, say) and new events go to a fresh file.
// If the new file cannot be opened, the old one stays in use and the error
// is returned.
func (j *JSONL) Reopen() error {
	f, err := openJSONL(j.path)
	if err != nil {
		return fmt.Errorf("reopening: %w", err)
	}
	j.mu.Lock()
	old := j.f
	if old == nil {
		j.mu.Unlock()
		_ = f.Close()
		return errors.New("reopening event log: sink closed")
	}
	j.f = f
	j.mu.Unlock()
	if err := old.Close(); err != nil {
		return fmt.Errorf("closing rotated event log: %w", err)
	}
	return nil
}

// Close closes the file. Later writes fail.
func (j *JSONL) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	if err != nil {
		return fmt.Errorf("closing event log: %w", err)
	}
	return nil
}
