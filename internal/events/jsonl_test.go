package events

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// readJSONL decodes every line of path.
func readJSONL(t *testing.T, path string) []Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d %q: %v", len(out)+1, sc.Text(), err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameEvent reports whether a and b are equal, comparing times as instants.
func sameEvent(a, b Event) bool {
	if !a.Time.Equal(b.Time) {
		return false
	}
	a.Time, b.Time = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func TestJSONLWriteRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "events.jsonl")
	j, err := NewJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []Event
	for i := range 5 {
		e := sampleEvent(i)
		e.ID = NewID()
		e.Time = time.Date(2025, 1, 1, 0, 0, i, 123456789, time.FixedZone("X", 3600))
		want = append(want, e)
	}
	want = append(want, Event{ID: "minimal", Time: time.Unix(0, 1).UTC(), Type: TypeUpstream})
	ctx := context.Background()
	if err := j.Write(ctx, want[:2]); err != nil {
		t.Fatal(err)
	}
	if err := j.Write(ctx, want[2:]); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
	if err := j.Write(ctx, want[:1]); err == nil {
		t.Error("Write after Close: got nil error, want one")
	}

	got := readJSONL(t, path)
	if len(got) != len(want) {
		t.Fatalf("lines: got %d, want %d", len(got), len(want))
	}
	for i := range want {
		if !sameEvent(got[i], want[i]) {
			t.Errorf("event %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "<script>") {
		t.Error("excerpt was HTML-escaped; want it verbatim")
	}

	for _, p := range []string{path, filepath.Dir(path)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700 | os.ModeDir
		}
		if fi.Mode() != want {
			t.Errorf("%s mode: got %v, want %v", p, fi.Mode(), want)
		}
	}
}

func TestJSONLAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	for i := range 2 {
		j, err := NewJSONL(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Write(context.Background(), []Event{{ID: itoa(i)}}); err != nil {
			t.Fatal(err)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := readJSONL(t, path); len(got) != 2 || got[0].ID != "0" || got[1].ID != "1" {
		t.Errorf("events: got %+v, want ids 0 and 1", got)
	}
}

func TestJSONLUnencodableAttrs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	j, err := NewJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	batch := []Event{
		{ID: "ok-1"},
		{ID: "bad", Attrs: map[string]any{"ch": make(chan int)}},
		{ID: "ok-2"},
	}
	if err := j.Write(context.Background(), batch); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got := readJSONL(t, path)
	if len(got) != 3 {
		t.Fatalf("lines: got %d, want 3", len(got))
	}
	if got[1].ID != "bad" || got[1].Attrs["_encode_error"] == nil {
		t.Errorf("bad event: got %+v, want id bad with _encode_error", got[1])
	}
}

func TestJSONLReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	j, err := NewJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	if err := j.Write(ctx, []Event{{ID: "before"}}); err != nil {
		t.Fatal(err)
	}
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	if err := j.Write(ctx, []Event{{ID: "still-old"}}); err != nil {
		t.Fatal(err)
	}
	if err := j.Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := j.Write(ctx, []Event{{ID: "after"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want []string
	}{
		{rotated, []string{"before", "still-old"}},
		{path, []string{"after"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			var ids []string
			for _, e := range readJSONL(t, tt.path) {
				ids = append(ids, e.ID)
			}
			if !reflect.DeepEqual(ids, tt.want) {
				t.Errorf("ids: got %v, want %v", ids, tt.want)
			}
		})
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Reopen(); err == nil {
		t.Error("Reopen after Close: got nil error, want one")
	}
}

// TestJSONLConcurrent writes from many goroutines while rotating, and checks
// no line is torn or lost.
func TestJSONLConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	j, err := NewJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e := sampleEvent(i)
				e.ID = itoa(w) + "-" + itoa(i)
				if err := j.Write(context.Background(), []Event{e, e}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if err := j.Reopen(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(readJSONL(t, path)); got != workers*each*2 {
		t.Errorf("lines: got %d, want %d", got, workers*each*2)
	}
}

func TestNewJSONLError(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewJSONL(filepath.Join(file, "events.jsonl")); err == nil {
		t.Error("NewJSONL under a regular file: got nil error, want one")
	}
}

// FuzzJSONLRoundTrip checks that any text in an event's fields comes back
// from the log unchanged and that each event stays on one line.
func FuzzJSONLRoundTrip(f *testing.F) {
	for _, s := range []string{"", "' OR 1=1 --", "<script>alert(1)</script>", "line\nbreak", "\u2028\u2029", "\x00\xff", `{"a":1}`} {
		f.Add(s, s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, excerpt, rule string) {
		path := filepath.Join(dir, "fuzz.jsonl")
		_ = os.Remove(path)
		j, err := NewJSONL(path)
		if err != nil {
			t.Fatal(err)
		}
		in := Event{ID: "x", Time: time.Unix(1, 0).UTC(), Excerpt: excerpt, Rules: []string{rule},
			Attrs: map[string]any{rule: excerpt}}
		if err := j.Write(context.Background(), []Event{in, in}); err != nil {
			t.Fatal(err)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		got := readJSONL(t, path)
		if len(got) != 2 {
			t.Fatalf("lines: got %d, want 2", len(got))
		}
		// encoding/json replaces invalid UTF-8 with U+FFFD; compare with
		// what a plain marshal/unmarshal round trip gives.
		var want Event
		b, _ := json.Marshal(in)
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if !sameEvent(got[0], want) {
			t.Errorf("got %+v, want %+v", got[0], want)
		}
	})
}
