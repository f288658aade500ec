package logbuf

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// dest records every write it gets, and signals each on a channel.
type dest struct {
	mu     sync.Mutex
	writes []string
	wrote  chan string
	fail   error
}

func newDest() *dest { return &dest{wrote: make(chan string, 1024)} }

func (d *dest) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return 0, d.fail
	}
	d.writes = append(d.writes, string(p))
	d.wrote <- string(p)
	return len(p), nil
}

func (d *dest) all() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.writes...)
}

// never is a tick channel that never ticks: flushes come from size, Flush
// and Close only.
var never = make(chan time.Time)

func TestHeldUntilFull(t *testing.T) {
	d := newDest()
	w := New(d, Options{Size: 25, Tick: never})
	defer w.Close()
	for i := range 5 {
		fmt.Fprintf(w, "record %02d\n", i) // 10 bytes each
	}
	// Two records fit 25 bytes; the third makes the first batch go out,
	// the fifth the second. The fifth is still held.
	want := []string{"record 00\nrecord 01\n", "record 02\nrecord 03\n"}
	if got := d.all(); !slices.Equal(got, want) {
		t.Fatalf("writes %q, want %q", got, want)
	}
	w.Flush()
	want = append(want, "record 04\n")
	if got := d.all(); !slices.Equal(got, want) {
		t.Fatalf("after Flush: writes %q, want %q", got, want)
	}
	w.Flush() // nothing held: no empty write
	if got := d.all(); len(got) != 3 {
		t.Fatalf("an empty Flush wrote: %q", got)
	}
}

func TestLargeRecordAlone(t *testing.T) {
	d := newDest()
	w := New(d, Options{Size: 16, Tick: never})
	defer w.Close()
	w.Write([]byte("small\n"))
	big := strings.Repeat("x", 40) + "\n"
	w.Write([]byte(big))
	w.Write([]byte("after\n"))
	want := []string{"small\n", big}
	if got := d.all(); !slices.Equal(got, want) {
		t.Fatalf("writes %q, want %q (held first, then the large record whole)", got, want)
	}
	w.Close()
	if got := d.all(); !slices.Equal(got, append(want, "after\n")) {
		t.Fatalf("after Close: writes %q", got)
	}
}

func TestTickFlushes(t *testing.T) {
	d := newDest()
	tick := make(chan time.Time)
	w := New(d, Options{Size: 1 << 10, Tick: tick})
	defer w.Close()
	w.Write([]byte("a\n"))
	w.Write([]byte("b\n"))
	if got := d.all(); len(got) != 0 {
		t.Fatalf("written before the tick: %q", got)
	}
	tick <- time.Time{}
	if got := <-d.wrote; got != "a\nb\n" {
		t.Fatalf("the tick wrote %q, want both records in one write", got)
	}
	w.Write([]byte("c\n"))
	tick <- time.Time{}
	if got := <-d.wrote; got != "c\n" {
		t.Fatalf("the second tick wrote %q, want c", got)
	}
}

func TestCloseFlushesAndWritesThrough(t *testing.T) {
	d := newDest()
	w := New(d, Options{Size: 1 << 10, Tick: never})
	w.Write([]byte("held\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("late\n"))
	if got, want := d.all(), []string{"held\n", "late\n"}; !slices.Equal(got, want) {
		t.Fatalf("writes %q, want %q (nothing lost after Close)", got, want)
	}
	if err := w.Close(); err != nil { // twice is fine
		t.Fatal(err)
	}
}

func TestWriteErrorsReported(t *testing.T) {
	d := newDest()
	d.fail = errors.New("disk full")
	var lost int
	var got error
	w := New(d, Options{Size: 1 << 10, Tick: never, OnError: func(err error, n int) { got, lost = err, lost+n }})
	w.Write([]byte("one\n"))
	w.Write([]byte("two\n"))
	w.Close()
	if got == nil || got.Error() != "disk full" || lost != 8 {
		t.Fatalf("OnError got %v, %d bytes lost; want disk full, 8", got, lost)
	}
}

func TestShortWriteReported(t *testing.T) {
	var lost int
	w := New(shortWriter{}, Options{Size: 1 << 10, Tick: never, OnError: func(_ error, n int) { lost += n }})
	w.Write([]byte("0123456789"))
	w.Close()
	if lost != 5 {
		t.Fatalf("lost %d bytes, want 5 (the half not written)", lost)
	}
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

// TestConcurrentRecordsWhole writes records from many goroutines through a
// small buffer with ticks arriving meanwhile, and checks that every record
// reaches the destination once, whole, and in each goroutine's order.
func TestConcurrentRecordsWhole(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	dst := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if len(p) == 0 || p[len(p)-1] != '\n' {
			t.Errorf("a write ends inside a record: %q", p)
		}
		return out.Write(p)
	})
	tick := make(chan time.Time)
	w := New(dst, Options{Size: 300, Tick: tick})
	const workers, records = 8, 500
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range records {
				fmt.Fprintf(w, "g%d r%04d %s\n", g, i, strings.Repeat("=", i%50))
			}
		}()
	}
	stopTicks := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		for {
			select {
			case tick <- time.Time{}:
			case <-stopTicks:
				return
			}
		}
	}()
	wg.Wait()
	close(stopTicks)
	<-ticked
	w.Close()

	next := make([]int, workers)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != workers*records {
		t.Fatalf("%d records written, want %d", len(lines), workers*records)
	}
	for _, l := range lines {
		var g, i int
		if _, err := fmt.Sscanf(l, "g%d r%d", &g, &i); err != nil || g < 0 || g >= workers {
			t.Fatalf("a record is broken: %q (%v)", l, err)
		}
		if i != next[g] {
			t.Fatalf("goroutine %d: record %d after %d", g, i, next[g]-1)
		}
		if want := fmt.Sprintf("g%d r%04d %s", g, i, strings.Repeat("=", i%50)); l != want {
			t.Fatalf("record %q, want %q", l, want)
		}
		next[g]++
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// BenchmarkWrite is the cost of holding one 300-byte access record.
func BenchmarkWrite(b *testing.B) {
	w := New(writerFunc(func(p []byte) (int, error) { return len(p), nil }), Options{})
	defer w.Close()
	rec := []byte(strings.Repeat("a", 299) + "\n")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Write(rec)
		}
	})
}
