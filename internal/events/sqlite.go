package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Query limits.
const (
	// DefaultQueryLimit is the number of events Query returns when
	// Filter.Limit is zero.
	DefaultQueryLimit = 100
	// MaxQueryLimit caps Filter.Limit.
	MaxQueryLimit = 1000
)

// sqliteBusyTimeoutMS is how long a writer waits for a lock held by another
// connection (a reader finishing, Retention deleting) before failing.
const sqliteBusyTimeoutMS = 5000

// defaultRetentionChunk bounds one DELETE transaction so retention never
// holds the write lock long enough to stall the bus's inserts past
// busy_timeout.
const defaultRetentionChunk = 5000

// ErrUnknownField is returned by CountBy for a field it cannot group by.
var ErrUnknownField = errors.New("unknown field")

// ErrCursorNotFound is returned by Query and Count when Filter.Before names
// an event id that is not (or no longer) in the store.
var ErrCursorNotFound = errors.New("cursor event not found")

// Store is the embedded SQLite event store: a Sink for the bus and the query
// API behind the admin plane and dashboard. It is safe for concurrent use.
type Store struct {
	db *sql.DB
	// retentionChunk is the most rows one Retention transaction deletes.
	retentionChunk int
}

var _ Sink = (*Store)(nil)

// migrations are applied in order; PRAGMA user_version records how many have
// run. Append, never edit.
var migrations = []string{
	`CREATE TABLE events (
		id TEXT PRIMARY KEY,
		time INTEGER NOT NULL,
		type TEXT NOT NULL DEFAULT '',
		severity TEXT NOT NULL DEFAULT '',
		request_id TEXT NOT NULL DEFAULT '',
		client_ip TEXT NOT NULL DEFAULT '',
		api TEXT NOT NULL DEFAULT '',
		method TEXT NOT NULL DEFAULT '',
		path TEXT NOT NULL DEFAULT '',
		stage TEXT NOT NULL DEFAULT '',
		rules TEXT,
		status INTEGER NOT NULL DEFAULT 0,
		reason TEXT NOT NULL DEFAULT '',
		location TEXT NOT NULL DEFAULT '',
		excerpt TEXT NOT NULL DEFAULT '',
		score INTEGER NOT NULL DEFAULT 0,
		mode TEXT NOT NULL DEFAULT '',
		principal TEXT NOT NULL DEFAULT '',
		attrs TEXT
	);
	-- (time, id) is the newest-first order Query pages through.
	CREATE INDEX idx_events_time ON events(time, id);
	-- The filter indexes end in (time, id) too, so a filtered page is read
	-- in order from the index with no sort.
	CREATE INDEX idx_events_client_ip ON events(client_ip, time, id);
	CREATE INDEX idx_events_type ON events(type, time, id);
	CREATE INDEX idx_events_stage ON events(stage, time, id);`,
	`CREATE INDEX idx_events_request_id ON events(request_id);
	ALTER TABLE events ADD COLUMN trace_id TEXT NOT NULL DEFAULT '';`,
}

// OpenSQLite opens (creating when missing, mode 0600, parent directories
// 0700) the event database at path, in WAL mode with a busy timeout, and
// migrates its schema.
func OpenSQLite(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("opening event store: empty path")
	}
	if strings.ContainsRune(path, '?') {
		// The driver reads everything after '?' as connection options.
		return nil, fmt.Errorf("opening event store %q: path must not contain '?'", path)
	}
	memory := path == ":memory:"
	if !memory {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("creating event store directory: %w", err)
		}
		// Create the file ourselves so it is private: SQLite would use
		// 0644, and gives its -wal and -shm files the database's mode.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("creating event store: %w", err)
		}
		_ = f.Close()
	}
	dsn := fmt.Sprintf("%s?_busy_timeout=%d&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate",
		path, sqliteBusyTimeoutMS)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening event store: %w", err)
	}
	if memory {
		db.SetMaxOpenConns(1) // each connection would be its own database
	}
	s := &Store{db: db, retentionChunk: defaultRetentionChunk}
	if err := s.migrate(context.Background()); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("opening event store %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this binary (%d)", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrating to schema version %d: %w", i+1, err)
		}
	}
	// PRAGMA takes no bound parameters; the value is an int we own.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return fmt.Errorf("writing schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	return nil
}

// Name returns "sqlite".
func (s *Store) Name() string { return "sqlite" }

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing event store: %w", err)
	}
	return nil
}

const insertSQL = `INSERT OR IGNORE INTO events (id, time, type, severity, request_id, client_ip, api,
	method, path, stage, rules, status, reason, location, excerpt, score, mode, principal, attrs, trace_id)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// Write inserts batch in one transaction. Events without an ID or Time get
// one (as the bus would). An event whose id is already stored is ignored, so
// a retried batch is harmless. Rules and Attrs are stored as JSON text; an
// Attrs that cannot be encoded is stored as {"_encode_error": "..."}.
func (s *Store) Write(ctx context.Context, batch []Event) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("storing events: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, insertSQL)
	if err != nil {
		return fmt.Errorf("storing events: %w", err)
	}
	defer stmt.Close()
	for i := range batch {
		e := batch[i]
		fill(&e, time.Now)
		rules, err := jsonText(e.Rules, len(e.Rules) == 0)
		if err != nil {
			return fmt.Errorf("storing event %s: rules: %w", e.ID, err)
		}
		attrs, err := jsonText(e.Attrs, len(e.Attrs) == 0)
		if err != nil {
			attrs, _ = jsonText(map[string]any{"_encode_error": err.Error()}, false)
		}
		if _, err := stmt.ExecContext(ctx, e.ID, e.Time.UnixNano(), e.Type, e.Severity, e.RequestID,
			e.ClientIP, e.API, e.Method, e.Path, e.Stage, rules, e.Status, e.Reason, e.Location,
			e.Excerpt, e.Score, e.Mode, e.Principal, attrs, e.TraceID); err != nil {
			return fmt.Errorf("storing event %s: %w", e.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("storing events: %w", err)
	}
	return nil
}

// jsonText encodes v as JSON text, or SQL NULL when empty is true.
func jsonText(v any, empty bool) (any, error) {
	if empty {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// Filter selects events for Query and Count. Zero fields do not filter.
type Filter struct {
	// Since keeps events at or after this time. Zero means no lower bound.
	Since time.Time
	// Until keeps events strictly before this time. Zero means no upper
	// bound.
	Until time.Time
	// Type, Stage, ClientIP, API and RequestID keep events whose field
	// equals the value exactly. Empty means any.
	Type      string
	Stage     string
	ClientIP  string
	API       string
	RequestID string
	// Principal keeps events of this principal id. Empty means any.
	Principal string
	// Rule keeps events that carry this rule id. Empty means any.
	Rule string
	// Severity keeps events of this severity or higher ("high" keeps high
	// and critical). Empty means any.
	Severity string
	// Node keeps events of this gateway node (stores shared by a fleet;
	// the SQLite store holds one node's events and ignores it).
	Node string
	// Limit is the most events Query returns. Zero or negative means
	// DefaultQueryLimit (100); values above MaxQueryLimit (1000) are capped.
	// Count ignores it.
	Limit int
	// Before is the pagination cursor: the id of the last event of the
	// previous page (Query then returns the events that come after it,
	// newest first), or an RFC 3339 time (events strictly before it). Empty
	// means start from the newest event.
	Before string
}

// where builds the WHERE clause for f. Only fixed column names reach the
// SQL text; every value is a bound parameter.
func (s *Store) where(ctx context.Context, f Filter) (string, []any, error) {
	var conds []string
	var args []any
	if !f.Since.IsZero() {
		conds = append(conds, "time >= ?")
		args = append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		conds = append(conds, "time < ?")
		args = append(args, f.Until.UnixNano())
	}
	for _, eq := range []struct{ col, val string }{
		{"type", f.Type},
		{"stage", f.Stage},
		{"client_ip", f.ClientIP},
		{"api", f.API},
		{"request_id", f.RequestID},
		{"principal", f.Principal},
	} {
		if eq.val != "" {
			conds = append(conds, eq.col+" = ?")
			args = append(args, eq.val)
		}
	}
	if f.Rule != "" {
		conds = append(conds, "EXISTS (SELECT 1 FROM json_each(events.rules) WHERE value = ?)")
		args = append(args, f.Rule)
	}
	if sev := severitiesFrom(f.Severity); sev != nil {
		conds = append(conds, "severity IN ("+strings.TrimSuffix(strings.Repeat("?,", len(sev)), ",")+")")
		for _, v := range sev {
			args = append(args, v)
		}
	}
	if f.Before != "" {
		if t, err := time.Parse(time.RFC3339Nano, f.Before); err == nil {
			conds = append(conds, "time < ?")
			args = append(args, t.UnixNano())
		} else {
			var at int64
			err := s.db.QueryRowContext(ctx, "SELECT time FROM events WHERE id = ?", f.Before).Scan(&at)
			if errors.Is(err, sql.ErrNoRows) {
				return "", nil, fmt.Errorf("%w: %q", ErrCursorNotFound, f.Before)
			}
			if err != nil {
				return "", nil, fmt.Errorf("reading cursor: %w", err)
			}
			conds = append(conds, "(time, id) < (?, ?)")
			args = append(args, at, f.Before)
		}
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

const selectCols = `id, time, type, severity, request_id, client_ip, api, method, path, stage,
	rules, status, reason, location, excerpt, score, mode, principal, attrs, trace_id`

// Query returns the events that match f, newest first (ties broken by id,
// descending). To page, pass the last returned event's ID as the next
// Filter.Before. Times come back in UTC; Attrs numbers come back as
// float64, as encoding/json decodes them.
func (s *Store) Query(ctx context.Context, f Filter) ([]Event, error) {
	where, args, err := s.where(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("querying events: %w", err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultQueryLimit
	}
	limit = min(limit, MaxQueryLimit)
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx,
		"SELECT "+selectCols+" FROM events"+where+" ORDER BY time DESC, id DESC LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("querying events: %w", err)
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var (
			e            Event
			at           int64
			rules, attrs sql.NullString
		)
		if err := rows.Scan(&e.ID, &at, &e.Type, &e.Severity, &e.RequestID, &e.ClientIP, &e.API,
			&e.Method, &e.Path, &e.Stage, &rules, &e.Status, &e.Reason, &e.Location, &e.Excerpt,
			&e.Score, &e.Mode, &e.Principal, &attrs, &e.TraceID); err != nil {
			return nil, fmt.Errorf("reading events: %w", err)
		}
		e.Time = time.Unix(0, at).UTC()
		if rules.Valid {
			if err := json.Unmarshal([]byte(rules.String), &e.Rules); err != nil {
				return nil, fmt.Errorf("reading event %s rules: %w", e.ID, err)
			}
		}
		if attrs.Valid {
			if err := json.Unmarshal([]byte(attrs.String), &e.Attrs); err != nil {
				return nil, fmt.Errorf("reading event %s attrs: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading events: %w", err)
	}
	return out, nil
}

// Count returns how many events match f (Limit is ignored).
func (s *Store) Count(ctx context.Context, f Filter) (int64, error) {
	where, args, err := s.where(ctx, f)
	if err != nil {
		return 0, fmt.Errorf("counting events: %w", err)
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM events"+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting events: %w", err)
	}
	return n, nil
}

// countByColumns maps the fields CountBy accepts to their columns. The
// field name goes into SQL text, so only these fixed strings ever do.
var countByColumns = map[string]string{
	"type":      "type",
	"stage":     "stage",
	"client_ip": "client_ip",
	"api":       "api",
	"severity":  "severity",
	"principal": "principal",
}

// CountBy counts events at or after since (zero: all events), grouped by
// field, which is one of "type", "stage", "client_ip", "api", "severity",
// "principal" or "rule" (each rule id of an event counts once); any other
// field returns an error wrapping ErrUnknownField. Events with an empty
// value are counted under "".
func (s *Store) CountBy(ctx context.Context, field string, since time.Time) (map[string]int64, error) {
	col, ok := countByColumns[field]
	from := " FROM events"
	if field == "rule" {
		col, ok, from = "r.value", true, " FROM events, json_each(events.rules) AS r"
	}
	if !ok {
		return nil, fmt.Errorf("counting events by %q: %w", field, ErrUnknownField)
	}
	q := "SELECT " + col + ", COUNT(*)" + from
	var args []any
	if !since.IsZero() {
		q += " WHERE time >= ?"
		args = append(args, since.UnixNano())
	}
	q += " GROUP BY " + col
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("counting events by %s: %w", field, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("counting events by %s: %w", field, err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting events by %s: %w", field, err)
	}
	return out, nil
}

// Retention deletes events older than olderThan and returns how many it
// deleted. It deletes in chunks, each its own transaction, so the bus's
// inserts are never locked out for long; if ctx ends part-way, the count so
// far is returned with the error.
func (s *Store) Retention(ctx context.Context, olderThan time.Time) (int64, error) {
	var total int64
	for {
		res, err := s.db.ExecContext(ctx,
			"DELETE FROM events WHERE rowid IN (SELECT rowid FROM events WHERE time < ? LIMIT ?)",
			olderThan.UnixNano(), s.retentionChunk)
		if err != nil {
			return total, fmt.Errorf("deleting old events: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("deleting old events: %w", err)
		}
		total += n
		if n < int64(s.retentionChunk) {
			return total, nil
		}
	}
}
