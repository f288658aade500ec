package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/units"
)

// Defaults of PostgresConfig.
const (
	DefaultPostgresTimeout    = 5 * time.Second
	DefaultPostgresRetry      = time.Second
	DefaultPostgresMaxRetry   = 30 * time.Second
	DefaultPostgresMaxSpool   = 256 * units.Bytes(1<<20)
	DefaultPostgresSpoolBatch = 500
)

// PostgresConfig is the `events.postgres` block: one event store for a
// whole fleet.
type PostgresConfig struct {
	// URL is the connection string ("postgres://user:password@host:5432/db?sslmode=verify-full");
	// use ${ENV} or file:PATH for the password. Required.
	URL string `yaml:"url" json:"url"`
	// Spool is the file where events wait while PostgreSQL is unreachable
	// (appended to, mode 0600); they are written to PostgreSQL, in order,
	// once it is back. Required: a node must not lose events an outage
	// caught in flight.
	Spool string `yaml:"spool" json:"spool"`
	// MaxSpool caps the spool file. Past it, events are refused by the
	// sink and counted as lost (portcullis_event_sink_errors_total).
	// Default 256MiB.
	MaxSpool units.Bytes `yaml:"max_spool,omitempty" json:"max_spool,omitempty"`
	// Timeout bounds one insert. Past it the batch goes to the spool.
	// Default 5s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// RetryInterval is the first wait before the spool is tried again; it
	// doubles up to 30s while PostgreSQL stays down. Default 1s.
	RetryInterval time.Duration `yaml:"retry_interval,omitempty" json:"retry_interval,omitempty"`
}

// Validate checks the block.
func (c *PostgresConfig) Validate() field.List {
	var l field.List
	if c.URL == "" {
		l = append(l, field.Errorf("url", "url is required (expected postgres://user:password@host:5432/db)"))
	} else if !strings.HasPrefix(c.URL, "postgres://") && !strings.HasPrefix(c.URL, "postgresql://") && !strings.HasPrefix(c.URL, "file:") {
		l = append(l, field.Errorf("url", "expected a postgres:// or postgresql:// URL"))
	}
	if c.Spool == "" {
		l = append(l, field.Errorf("spool", "spool is required: where events wait while PostgreSQL is down (e.g. /var/lib/portcullis/events.spool)"))
	}
	if c.Timeout < 0 || c.RetryInterval < 0 || c.MaxSpool < 0 {
		l = append(l, field.Errorf("", "timeout, retry_interval and max_spool must not be negative"))
	}
	return l
}

// PostgresOptions wire a Postgres sink to the process.
type PostgresOptions struct {
	// Node names this gateway in the rows it writes. Required.
	Node string
	// Logger logs outages and recoveries. Nil means slog.Default().
	Logger *slog.Logger
	// After waits between spool retries. Nil means time.After.
	After func(time.Duration) <-chan time.Time
}

// PostgresStats are the sink's own counters, beside the bus's.
type PostgresStats struct {
	// Inserted counts events written to PostgreSQL (directly or from the
	// spool).
	Inserted uint64 `json:"inserted"`
	// Spooled counts events written to the spool.
	Spooled uint64 `json:"spooled"`
	// Replayed counts spooled events later written to PostgreSQL.
	Replayed uint64 `json:"replayed"`
	// SpoolBytes is the spool's current size; SpoolEvents how many events
	// wait in it.
	SpoolBytes  int64 `json:"spool_bytes"`
	SpoolEvents int64 `json:"spool_events"`
	// Up is true while the last write to PostgreSQL succeeded.
	Up bool `json:"up"`
}

// Postgres is the fleet event sink and store: every node writes its events
// into one PostgreSQL table, and any node's admin plane queries all of
// them. Write never waits for PostgreSQL longer than Timeout: when it is
// down, events go to a local spool file and are replayed, in order, when
// it is back. An event the sink accepted is never lost: it is in
// PostgreSQL or in the spool (duplicates from a replay are ignored by id).
type Postgres struct {
	cfg  PostgresConfig
	opts PostgresOptions
	pool *pgxpool.Pool
	log  *slog.Logger

	schemaOnce sync.Mutex
	schemaOK   atomic.Bool

	mu    sync.Mutex // serialises writes and the spool
	spool *spool

	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	inserted, spooled, replayed atomic.Uint64
	up                          atomic.Bool
}

var _ Sink = (*Postgres)(nil)

// OpenPostgres returns a sink for cfg. It does not need PostgreSQL to be up:
// the schema is migrated at the first successful connection, and until then
// events are spooled.
func OpenPostgres(cfg PostgresConfig, opts PostgresOptions) (*Postgres, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultPostgresTimeout
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = DefaultPostgresRetry
	}
	if cfg.MaxSpool <= 0 {
		cfg.MaxSpool = DefaultPostgresMaxSpool
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.After == nil {
		opts.After = time.After
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// The error may quote the URL, password included: say only what.
		return nil, errors.New("events.postgres: the url is not a valid PostgreSQL connection string")
	}
	pc.ConnConfig.ConnectTimeout = cfg.Timeout
	pc.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("events.postgres: %w", err)
	}
	sp, err := openSpool(cfg.Spool, int64(cfg.MaxSpool))
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("events.postgres: %w", err)
	}
	p := &Postgres{cfg: cfg, opts: opts, pool: pool, log: opts.Logger, spool: sp,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go p.replayLoop()
	if sp.events > 0 {
		p.signal()
	}
	return p, nil
}

// Name returns "postgres".
func (p *Postgres) Name() string { return "postgres" }

// Write stores batch in PostgreSQL, or in the spool when PostgreSQL cannot
// take it within Timeout or older events are still spooled (order is kept).
// It returns an error only when the spool cannot take the batch either
// (full, or the disk fails): then the bus counts the events as lost.
func (p *Postgres) Write(ctx context.Context, batch []Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.spool.events == 0 {
		err := p.insert(ctx, batch)
		if err == nil {
			p.inserted.Add(uint64(len(batch)))
			p.setUp(true, nil)
			return nil
		}
		p.setUp(false, err)
	}
	if err := p.spool.append(batch); err != nil {
		return fmt.Errorf("spooling events: %w", err)
	}
	p.spooled.Add(uint64(len(batch)))
	p.signal()
	return nil
}

func (p *Postgres) signal() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *Postgres) setUp(up bool, err error) {
	if was := p.up.Swap(up); was != up {
		if up {
			p.log.Info("events: PostgreSQL reachable again", "spooled_events", p.spool.events)
		} else {
			p.log.Error("events: PostgreSQL unreachable; events go to the spool", "spool", p.cfg.Spool, "err", err)
		}
	}
}

// Flush writes the spool to PostgreSQL now and reports whether it is empty.
func (p *Postgres) Flush(ctx context.Context) error {
	for {
		p.mu.Lock()
		batch, next, err := p.spool.read(DefaultPostgresSpoolBatch)
		if err != nil {
			p.mu.Unlock()
			return err
		}
		if len(batch) == 0 {
			err := p.spool.reset()
			p.mu.Unlock()
			return err
		}
		p.mu.Unlock()
		// Insert outside the lock so Write can keep spooling meanwhile.
		if err := p.insert(ctx, batch); err != nil {
			p.setUp(false, err)
			return err
		}
		p.setUp(true, nil)
		p.mu.Lock()
		p.spool.advance(next, len(batch))
		p.mu.Unlock()
		p.inserted.Add(uint64(len(batch)))
		p.replayed.Add(uint64(len(batch)))
	}
}

func (p *Postgres) replayLoop() {
	defer close(p.done)
	wait := p.cfg.RetryInterval
	for {
		select {
		case <-p.stop:
			return
		case <-p.kick:
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 4*p.cfg.Timeout)
			err := p.Flush(ctx)
			cancel()
			if err == nil {
				wait = p.cfg.RetryInterval
				break
			}
			select {
			case <-p.stop:
				return
			case <-p.opts.After(wait):
			}
			wait = min(2*wait, DefaultPostgresMaxRetry)
		}
	}
}

// Stats returns the sink's counters.
func (p *Postgres) Stats() PostgresStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PostgresStats{Inserted: p.inserted.Load(), Spooled: p.spooled.Load(), Replayed: p.replayed.Load(),
		SpoolBytes: p.spool.size, SpoolEvents: p.spool.events, Up: p.up.Load()}
}

// Close stops the replayer, tries the spool one last time and closes the
// pool. What stays in the spool is replayed by the next start.
func (p *Postgres) Close() error {
	close(p.stop)
	<-p.done
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Timeout)
	_ = p.Flush(ctx)
	cancel()
	p.pool.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spool.close()
}

// pgMigrations are applied in order under an advisory lock, so nodes
// starting together do not race; portcullis_schema records the version.
// Append, never edit.
var pgMigrations = []string{
	`CREATE TABLE portcullis_events (
		id text PRIMARY KEY,
		time timestamptz NOT NULL,
		node text NOT NULL DEFAULT '',
		type text NOT NULL DEFAULT '',
		severity text NOT NULL DEFAULT '',
		request_id text NOT NULL DEFAULT '',
		client_ip text NOT NULL DEFAULT '',
		api text NOT NULL DEFAULT '',
		method text NOT NULL DEFAULT '',
		path text NOT NULL DEFAULT '',
		stage text NOT NULL DEFAULT '',
		rules jsonb,
		status integer NOT NULL DEFAULT 0,
		reason text NOT NULL DEFAULT '',
		location text NOT NULL DEFAULT '',
		excerpt text NOT NULL DEFAULT '',
		score integer NOT NULL DEFAULT 0,
		mode text NOT NULL DEFAULT '',
		principal text NOT NULL DEFAULT '',
		trace_id text NOT NULL DEFAULT '',
		attrs jsonb
	);
	CREATE INDEX portcullis_events_time ON portcullis_events (time DESC, id DESC);
	CREATE INDEX portcullis_events_client ON portcullis_events (client_ip, time DESC);
	CREATE INDEX portcullis_events_request ON portcullis_events (request_id);
	CREATE INDEX portcullis_events_type ON portcullis_events (type, time DESC);
	CREATE INDEX portcullis_events_stage ON portcullis_events (stage, time DESC);`,
}

// pgLockID is the advisory lock key of the migrations ("portcull").
const pgLockID = 0x706f727463756c6c

func (p *Postgres) ensureSchema(ctx context.Context) error {
	if p.schemaOK.Load() {
		return nil
	}
	p.schemaOnce.Lock()
	defer p.schemaOnce.Unlock()
	if p.schemaOK.Load() {
		return nil
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(pgLockID)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS portcullis_schema (version integer NOT NULL)"); err != nil {
		return err
	}
	var version int
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM portcullis_schema").Scan(&version); err != nil {
		return err
	}
	if version > len(pgMigrations) {
		return fmt.Errorf("schema version %d is newer than this binary (%d)", version, len(pgMigrations))
	}
	for i := version; i < len(pgMigrations); i++ {
		if _, err := tx.Exec(ctx, pgMigrations[i]); err != nil {
			return fmt.Errorf("migrating to schema version %d: %w", i+1, err)
		}
	}
	if version < len(pgMigrations) {
		if _, err := tx.Exec(ctx, "DELETE FROM portcullis_schema"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO portcullis_schema (version) VALUES ($1)", len(pgMigrations)); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	p.schemaOK.Store(true)
	return nil
}

// pgInsert writes a whole batch in one statement: one array per column,
// unnested into rows; an id already stored is skipped, so a replayed batch
// is harmless.
const pgInsert = `INSERT INTO portcullis_events (id, time, node, type, severity, request_id, client_ip, api,
	method, path, stage, rules, status, reason, location, excerpt, score, mode, principal, trace_id, attrs)
	SELECT id, time, node, type, severity, request_id, client_ip, api, method, path, stage,
		rules::jsonb, status, reason, location, excerpt, score, mode, principal, trace_id, attrs::jsonb
	FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
		$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::int[], $14::text[], $15::text[],
		$16::text[], $17::int[], $18::text[], $19::text[], $20::text[], $21::text[])
		AS t(id, time, node, type, severity, request_id, client_ip, api, method, path, stage, rules, status,
			reason, location, excerpt, score, mode, principal, trace_id, attrs)
	ON CONFLICT (id) DO NOTHING`

func (p *Postgres) insert(ctx context.Context, batch []Event) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	if err := p.ensureSchema(ctx); err != nil {
		return fmt.Errorf("postgres schema: %w", err)
	}
	n := len(batch)
	cols := struct {
		id, node, typ, sev, rid, cip, api, method, path, stage, reason, loc, exc, mode, prin, trace []string
		rules, attrs                                                                                []*string
		time                                                                                        []time.Time
		status, score                                                                               []int32
	}{}
	for i := range batch {
		e := batch[i]
		fill(&e, time.Now)
		node := e.Node
		if node == "" {
			node = p.opts.Node
		}
		cols.id = append(cols.id, e.ID)
		cols.time = append(cols.time, e.Time)
		cols.node = append(cols.node, node)
		cols.typ = append(cols.typ, e.Type)
		cols.sev = append(cols.sev, e.Severity)
		cols.rid = append(cols.rid, e.RequestID)
		cols.cip = append(cols.cip, e.ClientIP)
		cols.api = append(cols.api, e.API)
		cols.method = append(cols.method, e.Method)
		cols.path = append(cols.path, pgText(e.Path))
		cols.stage = append(cols.stage, e.Stage)
		cols.rules = append(cols.rules, jsonPtr(e.Rules, len(e.Rules) == 0))
		cols.status = append(cols.status, int32(e.Status))
		cols.reason = append(cols.reason, pgText(e.Reason))
		cols.loc = append(cols.loc, pgText(e.Location))
		cols.exc = append(cols.exc, pgText(e.Excerpt))
		cols.score = append(cols.score, int32(e.Score))
		cols.mode = append(cols.mode, e.Mode)
		cols.prin = append(cols.prin, pgText(e.Principal))
		cols.trace = append(cols.trace, e.TraceID)
		cols.attrs = append(cols.attrs, jsonPtr(e.Attrs, len(e.Attrs) == 0))
	}
	_ = n
	_, err := p.pool.Exec(ctx, pgInsert, cols.id, cols.time, cols.node, cols.typ, cols.sev, cols.rid, cols.cip,
		cols.api, cols.method, cols.path, cols.stage, cols.rules, cols.status, cols.reason, cols.loc, cols.exc,
		cols.score, cols.mode, cols.prin, cols.trace, cols.attrs)
	return err
}

// pgText removes NUL bytes, which PostgreSQL text cannot hold (an attack
// excerpt may carry them), so that such an event is stored rather than
// refused forever.
func pgText(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", `\u0000`)
}

func jsonPtr(v any, empty bool) *string {
	if empty {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"_encode_error": err.Error()})
	}
	s := pgText(string(b))
	// jsonb refuses \u0000 escapes too.
	s = strings.ReplaceAll(s, `\u0000`, `\\u0000`)
	return &s
}

// Query returns the fleet's events that match f, newest first (the same
// contract as Store.Query; Before takes an event id or an RFC 3339 time).
func (p *Postgres) Query(ctx context.Context, f Filter) ([]Event, error) {
	if err := p.ensureSchema(ctx); err != nil {
		return nil, fmt.Errorf("querying events: %w", err)
	}
	where, args, err := p.where(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("querying events: %w", err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultQueryLimit
	}
	args = append(args, min(limit, MaxQueryLimit))
	rows, err := p.pool.Query(ctx, `SELECT id, time, node, type, severity, request_id, client_ip, api, method, path,
		stage, rules, status, reason, location, excerpt, score, mode, principal, trace_id, attrs
		FROM portcullis_events`+where+fmt.Sprintf(" ORDER BY time DESC, id DESC LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("querying events: %w", err)
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var e Event
		var rules, attrs []byte
		var status, score int32
		if err := rows.Scan(&e.ID, &e.Time, &e.Node, &e.Type, &e.Severity, &e.RequestID, &e.ClientIP, &e.API,
			&e.Method, &e.Path, &e.Stage, &rules, &status, &e.Reason, &e.Location, &e.Excerpt, &score, &e.Mode,
			&e.Principal, &e.TraceID, &attrs); err != nil {
			return nil, fmt.Errorf("reading events: %w", err)
		}
		e.Status, e.Score = int(status), int(score)
		e.Time = e.Time.UTC()
		if len(rules) > 0 {
			_ = json.Unmarshal(rules, &e.Rules)
		}
		if len(attrs) > 0 {
			_ = json.Unmarshal(attrs, &e.Attrs)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (p *Postgres) where(ctx context.Context, f Filter) (string, []any, error) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if !f.Since.IsZero() {
		conds = append(conds, "time >= "+arg(f.Since))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "time < "+arg(f.Until))
	}
	for _, eq := range []struct{ col, val string }{
		{"type", f.Type}, {"stage", f.Stage}, {"client_ip", f.ClientIP}, {"api", f.API},
		{"request_id", f.RequestID}, {"principal", f.Principal}, {"node", f.Node},
	} {
		if eq.val != "" {
			conds = append(conds, eq.col+" = "+arg(eq.val))
		}
	}
	if f.Rule != "" {
		conds = append(conds, "rules @> "+arg(`["`+strings.ReplaceAll(strings.ReplaceAll(f.Rule, `\`, `\\`), `"`, `\"`)+`"]`)+"::jsonb")
	}
	if sev := severitiesFrom(f.Severity); sev != nil {
		conds = append(conds, "severity = ANY("+arg(sev)+")")
	}
	if f.Before != "" {
		if t, err := time.Parse(time.RFC3339Nano, f.Before); err == nil {
			conds = append(conds, "time < "+arg(t))
		} else {
			var at time.Time
			err := p.pool.QueryRow(ctx, "SELECT time FROM portcullis_events WHERE id = $1", f.Before).Scan(&at)
			if errors.Is(err, pgx.ErrNoRows) {
				return "", nil, fmt.Errorf("%w: %q", ErrCursorNotFound, f.Before)
			}
			if err != nil {
				return "", nil, fmt.Errorf("reading cursor: %w", err)
			}
			conds = append(conds, "(time, id) < ("+arg(at)+", "+arg(f.Before)+")")
		}
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// pgCountBy maps the fields CountBy accepts to SQL expressions.
var pgCountBy = map[string]string{
	"type": "type", "stage": "stage", "client_ip": "client_ip", "api": "api", "severity": "severity",
	"principal": "principal", "node": "node",
}

// CountBy counts the fleet's events at or after since, grouped by field
// (the Store.CountBy fields, plus "principal", "node" and "rule").
func (p *Postgres) CountBy(ctx context.Context, fieldName string, since time.Time) (map[string]int64, error) {
	if err := p.ensureSchema(ctx); err != nil {
		return nil, fmt.Errorf("counting events: %w", err)
	}
	var q string
	if fieldName == "rule" {
		q = "SELECT r, COUNT(*) FROM portcullis_events, jsonb_array_elements_text(COALESCE(rules, '[]'::jsonb)) AS r WHERE time >= $1 GROUP BY r"
	} else if col, ok := pgCountBy[fieldName]; ok {
		q = "SELECT " + col + ", COUNT(*) FROM portcullis_events WHERE time >= $1 GROUP BY " + col
	} else {
		return nil, fmt.Errorf("counting events by %q: %w", fieldName, ErrUnknownField)
	}
	rows, err := p.pool.Query(ctx, q, since)
	if err != nil {
		return nil, fmt.Errorf("counting events by %s: %w", fieldName, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}
