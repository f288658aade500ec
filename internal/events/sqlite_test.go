package events

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func openTestStore(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db", "events.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

// base is the time of the first event in seeded stores.
var base = time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)

// seed stores n sample events one second apart (event i at base+i s) and
// returns them.
func seed(t *testing.T, s *Store, n int) []Event {
	t.Helper()
	var evs []Event
	for i := range n {
		e := sampleEvent(i)
		e.ID = NewID()
		e.Time = base.Add(time.Duration(i) * time.Second)
		evs = append(evs, e)
	}
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestOpenSQLite(t *testing.T) {
	s, path := openTestStore(t)
	ctx := context.Background()
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode: got %q, want wal", mode)
	}
	var busy int
	if err := s.db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
		t.Fatal(err)
	}
	if busy != sqliteBusyTimeoutMS {
		t.Errorf("busy_timeout: got %d, want %d", busy, sqliteBusyTimeoutMS)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode: got %v, want 0600", fi.Mode().Perm())
	}
	seed(t, s, 3)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening keeps the data and does not re-run migrations.
	s2, err := OpenSQLite(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	if n, err := s2.Count(ctx, Filter{}); err != nil || n != 3 {
		t.Errorf("Count after reopen: got %d, %v, want 3, nil", n, err)
	}
	var version int
	if err := s2.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != len(migrations) {
		t.Errorf("user_version: got %d, want %d", version, len(migrations))
	}
}

func TestOpenSQLiteErrors(t *testing.T) {
	dir := t.TempDir()
	newer := filepath.Join(dir, "newer.db")
	s, err := OpenSQLite(newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
	}{
		{"empty", ""},
		{"question mark", filepath.Join(dir, "a?b.db")},
		{"under a file", filepath.Join(file, "x.db")},
		{"newer schema", newer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := OpenSQLite(tt.path); err == nil {
				s.Close()
				t.Errorf("OpenSQLite(%q): got nil error, want one", tt.path)
			}
		})
	}
}

func TestStoreRoundTrip(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	want := seed(t, s, 5)
	minimal := Event{ID: "minimal", Time: base.Add(time.Hour)}
	if err := s.Write(ctx, []Event{minimal}); err != nil {
		t.Fatal(err)
	}
	// A retried batch is harmless.
	if err := s.Write(ctx, want); err != nil {
		t.Fatalf("rewriting the same batch: %v", err)
	}
	got, err := s.Query(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("events: got %d, want 6", len(got))
	}
	if !sameEvent(got[0], minimal) {
		t.Errorf("minimal event: got %+v, want %+v", got[0], minimal)
	}
	for i, e := range got[1:] {
		w := want[len(want)-1-i] // newest first
		if !sameEvent(e, w) {
			t.Errorf("event %d: got %+v, want %+v", i, e, w)
		}
	}
}

func TestStoreWriteFillsAndEncodes(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	err := s.Write(ctx, []Event{
		{Type: TypeDenial},
		{ID: "bad", Time: base, Attrs: map[string]any{"f": func() {}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Query(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("events: got %d, want 2", len(got))
	}
	filled, bad := got[0], got[1]
	if filled.ID == "" || filled.Time.IsZero() {
		t.Errorf("filled event: got %+v, want an id and a time", filled)
	}
	if bad.Attrs["_encode_error"] == nil {
		t.Errorf("bad attrs: got %v, want _encode_error", bad.Attrs)
	}
}

func TestStoreQueryFilters(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	evs := seed(t, s, 30)
	// requestIDs lists the RequestIDs of evs[i] for which keep(i), newest
	// first.
	requestIDs := func(keep func(i int) bool) []string {
		var out []string
		for i := len(evs) - 1; i >= 0; i-- {
			if keep(i) {
				out = append(out, evs[i].RequestID)
			}
		}
		return out
	}
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"all", Filter{}, requestIDs(func(int) bool { return true })},
		{"type", Filter{Type: TypeDetection}, requestIDs(func(i int) bool { return i%3 == 1 })},
		{"stage", Filter{Stage: "authn.jwt"}, requestIDs(func(i int) bool { return i%3 == 1 })},
		{"client ip", Filter{ClientIP: "192.0.2.2"}, requestIDs(func(i int) bool { return i%7 == 2 })},
		{"api none", Filter{API: "other"}, nil},
		{"api", Filter{API: "petstore", Limit: 3}, requestIDs(func(i int) bool { return i >= 27 })},
		{"request id", Filter{RequestID: "req-4"}, []string{"req-4"}},
		{"since", Filter{Since: at(25)}, requestIDs(func(i int) bool { return i >= 25 })},
		{"until (exclusive)", Filter{Until: at(3)}, requestIDs(func(i int) bool { return i < 3 })},
		{"window and type", Filter{Since: at(10), Until: at(20), Type: TypeDenial},
			requestIDs(func(i int) bool { return i >= 10 && i < 20 && i%3 == 0 })},
		{"before time", Filter{Before: at(2).Format(time.RFC3339Nano)}, []string{"req-1", "req-0"}},
		{"before id", Filter{Before: evs[2].ID}, []string{"req-1", "req-0"}},
		{"limit", Filter{Limit: 2}, []string{"req-29", "req-28"}},
		{"negative limit means default", Filter{Limit: -1}, requestIDs(func(int) bool { return true })},
		{"injection is a value", Filter{ClientIP: "' OR 1=1 --"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Query(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.RequestID)
			}
			if !reflect.DeepEqual(ids, tt.want) {
				t.Errorf("Query: got %v, want %v", ids, tt.want)
			}
			n, err := s.Count(ctx, Filter{Since: tt.f.Since, Until: tt.f.Until, Type: tt.f.Type,
				Stage: tt.f.Stage, ClientIP: tt.f.ClientIP, API: tt.f.API, RequestID: tt.f.RequestID,
				Before: tt.f.Before})
			if err != nil {
				t.Fatal(err)
			}
			if tt.f.Limit == 0 && n != int64(len(tt.want)) {
				t.Errorf("Count: got %d, want %d", n, len(tt.want))
			}
		})
	}
}

func TestStoreQueryUnknownCursor(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	seed(t, s, 2)
	if _, err := s.Query(ctx, Filter{Before: "no-such-id"}); !errors.Is(err, ErrCursorNotFound) {
		t.Errorf("Query: got %v, want ErrCursorNotFound", err)
	}
	if _, err := s.Count(ctx, Filter{Before: "no-such-id"}); !errors.Is(err, ErrCursorNotFound) {
		t.Errorf("Count: got %v, want ErrCursorNotFound", err)
	}
}

// TestStoreQueryPagination pages through events that share timestamps, so
// the id tie-break in the cursor matters.
func TestStoreQueryPagination(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	const n = 1234
	var evs []Event
	for i := range n {
		evs = append(evs, Event{ID: NewID(), Time: base.Add(time.Duration(i/10) * time.Second), Type: TypeDenial})
	}
	if err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		limit     int
		wantPages int
	}{
		{"small pages", 7, (n + 6) / 7},
		{"capped at max", 5000, (n + MaxQueryLimit - 1) / MaxQueryLimit},
		{"default", 0, (n + DefaultQueryLimit - 1) / DefaultQueryLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			var last Event
			f := Filter{Limit: tt.limit}
			pages := 0
			for {
				page, err := s.Query(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				pages++
				for _, e := range page {
					if seen[e.ID] {
						t.Fatalf("event %s returned twice", e.ID)
					}
					seen[e.ID] = true
					if last.ID != "" && (e.Time.After(last.Time) || (e.Time.Equal(last.Time) && e.ID > last.ID)) {
						t.Fatalf("order: %v/%s after %v/%s", e.Time, e.ID, last.Time, last.ID)
					}
					last = e
				}
				f.Before = page[len(page)-1].ID
			}
			if len(seen) != n {
				t.Errorf("events seen: got %d, want %d", len(seen), n)
			}
			if pages != tt.wantPages {
				t.Errorf("pages: got %d, want %d", pages, tt.wantPages)
			}
		})
	}
}

func TestStoreCountBy(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	seed(t, s, 9)
	if err := s.Write(ctx, []Event{{ID: "bare", Time: base}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		field   string
		since   time.Time
		want    map[string]int64
		wantErr bool
	}{
		{field: "type", want: map[string]int64{TypeDenial: 3, TypeDetection: 3, TypeMalformed: 3, "": 1}},
		{field: "type", since: base.Add(6 * time.Second), want: map[string]int64{TypeDenial: 1, TypeDetection: 1, TypeMalformed: 1}},
		{field: "stage", want: map[string]int64{"waf.crs": 3, "authn.jwt": 3, "ratelimit.ip": 3, "": 1}},
		{field: "client_ip", since: base.Add(5 * time.Second), want: map[string]int64{"192.0.2.5": 1, "192.0.2.6": 1, "192.0.2.0": 1, "192.0.2.1": 1}},
		{field: "api", want: map[string]int64{"petstore": 9, "": 1}},
		{field: "severity", want: map[string]int64{SeverityHigh: 9, "": 1}},
		{field: "path", wantErr: true},
		{field: "TYPE", wantErr: true},
		{field: "", wantErr: true},
		{field: "type; DROP TABLE events", wantErr: true},
		{field: "1) FROM events --", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			got, err := s.CountBy(ctx, tt.field, tt.since)
			if tt.wantErr {
				if !errors.Is(err, ErrUnknownField) {
					t.Errorf("CountBy(%q): got %v, want ErrUnknownField", tt.field, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CountBy(%q): got %v, want %v", tt.field, got, tt.want)
			}
		})
	}
	if n, _ := s.Count(ctx, Filter{}); n != 10 {
		t.Errorf("events after CountBy: got %d, want 10", n)
	}
}

func TestStoreRetention(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	s.retentionChunk = 100
	const n = 3*100 + 23 // more than one delete chunk
	var evs []Event
	for i := range n {
		evs = append(evs, Event{ID: NewID(), Time: base.Add(time.Duration(i) * time.Millisecond)})
	}
	if err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		olderThan time.Time
		want      int64
		wantLeft  int64
	}{
		{"nothing older", base, 0, n},
		{"first ten", base.Add(10 * time.Millisecond), 10, n - 10},
		{"all but five", base.Add((n - 5) * time.Millisecond), n - 15, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Retention(ctx, tt.olderThan)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("deleted: got %d, want %d", got, tt.want)
			}
			left, err := s.Count(ctx, Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if left != tt.wantLeft {
				t.Errorf("left: got %d, want %d", left, tt.wantLeft)
			}
		})
	}
}

// FuzzStoreQuery feeds arbitrary filter text and CountBy fields to the
// store: values must only ever be values, never SQL.
func FuzzStoreQuery(f *testing.F) {
	for _, s := range []string{"", "type", "' OR 1=1 --", "1; DROP TABLE events", "2025-06-01T10:00:00Z", `"`, "\x00"} {
		f.Add(s)
	}
	s, _ := openTestStore(f)
	ctx := context.Background()
	e := sampleEvent(1)
	e.ID, e.Time = "seed", base
	if err := s.Write(ctx, []Event{e}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if _, err := s.Query(ctx, Filter{Type: v, Stage: v, ClientIP: v, API: v, RequestID: v}); err != nil {
			t.Fatalf("Query: %v", err)
		}
		if _, err := s.Query(ctx, Filter{Before: v}); err != nil && !errors.Is(err, ErrCursorNotFound) {
			t.Fatalf("Query before %q: %v", v, err)
		}
		if _, err := s.CountBy(ctx, v, time.Time{}); err != nil && !errors.Is(err, ErrUnknownField) {
			t.Fatalf("CountBy(%q): %v", v, err)
		}
		if n, err := s.Count(ctx, Filter{}); err != nil || n != 1 {
			t.Fatalf("Count: got %d, %v, want 1, nil", n, err)
		}
	})
}
