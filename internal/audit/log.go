package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/events"
)

// Options configure a Log beyond its Config.
type Options struct {
	// Now is the clock stamped on records. Nil means time.Now.
	Now func() time.Time
	// Key signs checkpoints. Required.
	Key ed25519.PrivateKey
	// OnAdmin, when set, is called with every admin action after it is
	// written (the admin plane shows recent ones).
	OnAdmin func(Record)
}

// Record is one record as the dashboard shows it.
type Record struct {
	Seq  uint64          `json:"seq"`
	Time time.Time       `json:"time"`
	Kind string          `json:"kind"`
	Hash string          `json:"hash"`
	Data json.RawMessage `json:"data"`
}

// Log appends records to the audit file. It is an events.Sink (security
// events arrive through the bus) and takes admin actions directly
// (Admin), synchronously, so that an admin action is never lost to a full
// queue. It is safe for concurrent use.
type Log struct {
	cfg  Config
	opts Options
	now  func() time.Time

	mu        sync.Mutex
	f         *os.File
	seq       uint64
	prev      string
	unsigned  int       // records since the last checkpoint
	firstOpen time.Time // time of the oldest unsigned record
	buf       bytes.Buffer

	stop chan struct{}
	done chan struct{}
}

var _ events.Sink = (*Log)(nil)

// Open opens (creating when missing) the audit log of cfg, continues its
// chain from the last record, and writes an open record. A torn last line
// (a crash in the middle of a write) is cut off, and the open record says
// so. It starts a goroutine that writes a checkpoint every
// CheckpointInterval while records are unsigned; Close stops it.
func Open(cfg Config, opts Options) (*Log, error) {
	if cfg.File == "" {
		return nil, errors.New("audit: no file")
	}
	if len(opts.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("audit: a signing key is required")
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = DefaultCheckpointEvery
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	l := &Log{cfg: cfg, opts: opts, now: opts.Now, prev: zeroHash}
	if l.now == nil {
		l.now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(cfg.File), 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	f, err := os.OpenFile(cfg.File, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	l.f = f
	cut, err := l.resume()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("audit: continuing %s: %w", cfg.File, err)
	}
	pub := opts.Key.Public().(ed25519.PublicKey)
	open := map[string]any{"key": KeyID(pub), "public_key": hex.EncodeToString(pub)}
	if cut > 0 {
		open["torn_tail_bytes"] = cut
	}
	if err := l.append(KindOpen, open); err != nil {
		_ = f.Close()
		return nil, err
	}
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go l.loop()
	return l, nil
}

// resume finds the last complete record, so that the chain continues from
// it, and cuts off a torn tail. It returns how many bytes were cut.
func (l *Log) resume() (int64, error) {
	st, err := l.f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if size == 0 {
		return 0, nil
	}
	// Read back from the end in growing chunks until a whole last line is
	// in hand.
	chunk := int64(64 << 10)
	for {
		off := max(size-chunk, 0)
		b := make([]byte, size-off)
		if _, err := l.f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		end := len(b)
		var cut int64
		if b[end-1] != '\n' {
			nl := bytes.LastIndexByte(b, '\n')
			if nl < 0 && off > 0 {
				chunk *= 4
				continue
			}
			cut = int64(end - (nl + 1))
			end = nl + 1
		}
		if end == 0 { // the only line was torn
			if err := l.f.Truncate(0); err != nil {
				return 0, err
			}
			return cut, nil
		}
		start := bytes.LastIndexByte(b[:end-1], '\n') + 1
		if start == 0 && off > 0 {
			chunk *= 4
			continue
		}
		body, hash, err := split(b[start:end])
		if err != nil {
			return 0, fmt.Errorf("last record: %w (run portcullis audit verify)", err)
		}
		var ln line
		if err := json.Unmarshal(body, &ln); err != nil {
			return 0, fmt.Errorf("last record: %w", err)
		}
		if cut > 0 {
			if err := l.f.Truncate(size - cut); err != nil {
				return 0, err
			}
		}
		l.seq, l.prev = ln.Seq, hash
		return cut, nil
	}
}

// Name returns "audit".
func (l *Log) Name() string { return "audit" }

// Write appends a batch of security events, one record each. Admin events
// published on the bus are skipped: Admin already wrote them.
func (l *Log) Write(_ context.Context, batch []events.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("audit: log closed")
	}
	l.buf.Reset()
	seq, prev, unsigned := l.seq, l.prev, l.unsigned
	for i := range batch {
		if batch[i].Type == events.TypeAdmin {
			continue
		}
		if err := l.encodeLocked(&seq, &prev, KindEvent, &batch[i]); err != nil {
			return err
		}
		unsigned++
		if unsigned >= l.cfg.CheckpointEvery {
			if err := l.checkpointLocked(&seq, &prev); err != nil {
				return err
			}
			unsigned = 0
		}
	}
	if err := l.flushLocked(); err != nil {
		return err
	}
	if l.unsigned == 0 && unsigned > 0 {
		l.firstOpen = l.now()
	}
	l.seq, l.prev, l.unsigned = seq, prev, unsigned
	return nil
}

// Admin appends an admin action and returns once it is written.
func (l *Log) Admin(a Action) (Record, error) {
	l.mu.Lock()
	l.buf.Reset()
	seq, prev := l.seq, l.prev
	if l.f == nil {
		l.mu.Unlock()
		return Record{}, errors.New("audit: log closed")
	}
	if err := l.encodeLocked(&seq, &prev, KindAdmin, a); err != nil {
		l.mu.Unlock()
		return Record{}, err
	}
	if err := l.flushLocked(); err != nil {
		l.mu.Unlock()
		return Record{}, err
	}
	if l.unsigned == 0 {
		l.firstOpen = l.now()
	}
	l.seq, l.prev = seq, prev
	l.unsigned++
	b, _ := json.Marshal(a)
	rec := Record{Seq: seq, Time: l.now().UTC(), Kind: KindAdmin, Hash: prev, Data: b}
	l.mu.Unlock()
	if l.opts.OnAdmin != nil {
		l.opts.OnAdmin(rec)
	}
	return rec, nil
}

// Checkpoint signs the chain up to the last record now (when anything is
// unsigned).
func (l *Log) Checkpoint() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checkpointNowLocked()
}

func (l *Log) checkpointNowLocked() error {
	if l.f == nil || l.unsigned == 0 {
		return nil
	}
	l.buf.Reset()
	seq, prev := l.seq, l.prev
	if err := l.checkpointLocked(&seq, &prev); err != nil {
		return err
	}
	if err := l.flushLocked(); err != nil {
		return err
	}
	l.seq, l.prev, l.unsigned = seq, prev, 0
	return nil
}

// Head returns the sequence number and hash of the last record.
func (l *Log) Head() (uint64, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, l.prev
}

// Close writes a last checkpoint and closes the file.
func (l *Log) Close() error {
	if l.stop != nil {
		close(l.stop)
		<-l.done
		l.stop = nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.checkpointNowLocked()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

func (l *Log) loop() {
	defer close(l.done)
	t := time.NewTicker(min(l.cfg.CheckpointInterval, time.Second))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			if l.unsigned > 0 && l.now().Sub(l.firstOpen) >= l.cfg.CheckpointInterval {
				_ = l.checkpointNowLocked()
			}
			l.mu.Unlock()
		}
	}
}

// append writes one record outside a batch.
func (l *Log) append(kind string, data any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Reset()
	seq, prev := l.seq, l.prev
	if err := l.encodeLocked(&seq, &prev, kind, data); err != nil {
		return err
	}
	if err := l.flushLocked(); err != nil {
		return err
	}
	if l.unsigned == 0 {
		l.firstOpen = l.now()
	}
	l.seq, l.prev = seq, prev
	l.unsigned++
	return nil
}

func (l *Log) encodeLocked(seq *uint64, prev *string, kind string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("audit: encoding %s record: %w", kind, err)
	}
	b, h, err := encode(line{Seq: *seq + 1, Time: l.now().UTC(), Kind: kind, Prev: *prev, Data: raw})
	if err != nil {
		return fmt.Errorf("audit: encoding %s record: %w", kind, err)
	}
	l.buf.Write(b)
	*seq++
	*prev = h
	return nil
}

func (l *Log) checkpointLocked(seq *uint64, prev *string) error {
	sig := ed25519.Sign(l.opts.Key, SignedBytes(*seq, *prev))
	cp := Checkpoint{Seq: *seq, Hash: *prev, Key: KeyID(l.opts.Key.Public().(ed25519.PublicKey)), Sig: hex.EncodeToString(sig)}
	return l.encodeLocked(seq, prev, KindCheckpoint, cp)
}

// flushLocked writes the buffered lines with one write; a partial write is
// truncated away so the file never holds half a record.
func (l *Log) flushLocked() error {
	if l.buf.Len() == 0 {
		return nil
	}
	start, err := l.f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if _, err := l.f.Write(l.buf.Bytes()); err != nil {
		_ = l.f.Truncate(start)
		return fmt.Errorf("audit: writing: %w", err)
	}
	if l.cfg.Fsync {
		if err := l.f.Sync(); err != nil {
			return fmt.Errorf("audit: syncing: %w", err)
		}
	}
	l.buf.Reset()
	return nil
}
