package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/crowdsec"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/listener"
	"github.com/portcullis/portcullis/internal/logbuf"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/redact"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/tlsconf"
)

// Options configure a Server.
type Options struct {
	// Logger is the gateway's own log. Nil logs JSON to stderr at the
	// config's log level.
	Logger *slog.Logger
	// Now is the clock. Nil uses time.Now.
	Now func() time.Time
	// AccessWriter overrides where access records go (tests). Nil uses the
	// config's log.access.
	AccessWriter io.Writer
	// Listeners, when set, are used instead of binding each configured
	// listener address, index for index (tests and the demo bind port 0).
	Listeners []net.Listener
	// AdminListener, when set, is used instead of binding admin.addr.
	AdminListener net.Listener
	// Extra event sinks added to the bus (tests, the demo).
	Sinks []events.Sink
	// WatchConfig reloads the configuration whenever its file changes.
	WatchConfig bool
	// OnReload, when set, is called after every reload attempt with its
	// result (nil on success).
	OnReload func(error)
	// TraceExporter replaces the OTLP exporter when tracing is on (tests).
	TraceExporter sdktrace.SpanExporter
}

// Server is a running Portcullis: listeners, admin plane, event bus and the
// current Gateway, which Reload swaps atomically.
type Server struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics.Metrics
	bus     *events.Bus
	store   *events.Store
	jsonl   *events.JSONL
	shared  store.Store
	feed    *crowdsec.Feed // nil without a crowdsec block
	access  *slog.Logger
	// accessBuf batches the access records (nil with log.access_sync or
	// log.access off); flushed before a reopen and on Close.
	accessBuf *logbuf.Writer
	closers   []io.Closer
	mon       monitor

	gw     atomic.Pointer[Gateway]
	reload sync.Mutex // serialises reloads

	listeners []*listener.Listener
	netLns    []net.Listener
	tlsSrvs   []*tlsconf.Server
	adminSrv  *http.Server
	adminLn   net.Listener
	ready     atomic.Bool
	stopWatch func()
}

// NewServer builds a server for cfg (already loaded and validated) without
// binding anything yet.
func NewServer(cfg *config.Config, opts Options) (*Server, error) {
	s := &Server{opts: opts, now: opts.Now, metrics: metrics.New()}
	if s.now == nil {
		s.now = time.Now
	}
	s.log = opts.Logger
	if s.log == nil {
		s.log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: parseLevel(cfg.Log.Level)}))
	}
	s.log = slog.New(redact.Handler(s.log.Handler())) // no sensitive value in the gateway's log
	if err := s.openSinks(cfg); err != nil {
		s.closeAll()
		return nil, err
	}
	shared, err := openStore(cfg, s.bus, s.metrics, s.log, s.now)
	if err != nil {
		s.closeAll()
		return nil, fmt.Errorf("store: %w", err)
	}
	s.shared = shared
	if cfg.CrowdSec.Enabled() {
		feed, err := crowdsec.Start(cfg.CrowdSec, s.log, s.now)
		if err != nil {
			s.closeAll()
			return nil, err
		}
		s.feed = feed
		s.shared = crowdsec.Layer{Store: shared, Feed: feed}
	}
	gw, err := New(cfg, s.deps())
	if err != nil {
		s.closeAll()
		return nil, err
	}
	s.gw.Store(gw)
	s.metrics.ReloadResult(true, s.now())
	s.applyGC(cfg)
	return s, nil
}

// applyGC sets the garbage collector's target to server.gc_percent, unless
// GOGC is set in the environment: the operator's word for the process wins
// over the file's. It is process-wide, applied at start and on reload.
func (s *Server) applyGC(cfg *config.Config) {
	want := cfg.Server.GCPercent
	if env := os.Getenv("GOGC"); env != "" {
		if want != config.DefaultGCPercent {
			s.log.Warn("GOGC is set in the environment; server.gc_percent is not applied", "GOGC", env, "gc_percent", want)
		}
		return
	}
	if want <= 0 {
		return // a config built in code without defaults
	}
	if prev := debug.SetGCPercent(want); prev != want {
		s.log.Debug("garbage collector target set", "gc_percent", want, "was", prev)
	}
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

func (s *Server) deps() Deps {
	return Deps{Metrics: s.metrics, Events: s.bus, Access: s.access, Logger: s.log, Now: s.now, Store: s.shared,
		Tracer: s.mon.tracer, Recent: s.mon.ring}
}

// openSinks opens the access log and the event bus with its sinks.
func (s *Server) openSinks(cfg *config.Config) error {
	var aw io.Writer
	switch dest := cfg.Log.Access; {
	case s.opts.AccessWriter != nil:
		aw = s.opts.AccessWriter
	case dest == "" || dest == "stdout":
		aw = os.Stdout
	case dest == "stderr":
		aw = os.Stderr
	case dest == "off":
	default:
		if err := os.MkdirAll(filepath.Dir(dest), 0o750); err != nil {
			return fmt.Errorf("log.access: %w", err)
		}
		f, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("log.access: %w", err)
		}
		s.closers = append(s.closers, f)
		aw = f
	}
	if aw != nil && !cfg.Log.AccessSync {
		s.accessBuf = logbuf.New(aw, logbuf.Options{Size: int(cfg.Log.AccessBuffer), Every: cfg.Log.AccessFlush,
			OnError: func(err error, lost int) {
				s.log.Error("writing the access log failed; records lost", "err", err.Error(), "bytes", lost)
			}})
		aw = s.accessBuf
	}
	if aw != nil {
		s.access = slog.New(redact.JSONHandler(aw)) // nor in an access record
	}

	s.bus = events.NewBus(events.BusOptions{QueueSize: cfg.Events.QueueSize, Logger: s.log, Now: s.now,
		ClientBurst: cfg.Events.ClientBurst, ClientRate: cfg.Events.ClientRate})
	if cfg.Events.JSONL != "" {
		j, err := events.NewJSONL(cfg.Events.JSONL)
		if err != nil {
			return fmt.Errorf("events.jsonl: %w", err)
		}
		s.jsonl = j
		s.bus.AddSink(j)
	}
	if cfg.Events.SQLite != "" {
		st, err := events.OpenSQLite(cfg.Events.SQLite)
		if err != nil {
			return fmt.Errorf("events.sqlite: %w", err)
		}
		s.store = st
		s.bus.AddSink(st)
	}
	if err := s.openMonitor(cfg); err != nil {
		return err
	}
	for _, sk := range s.opts.Sinks {
		s.bus.AddSink(sk)
	}
	s.metrics.RegisterEventBus(s.bus)
	return nil
}

// ReopenEvents reopens the events JSONL file under its name (log
// rotation) and returns its path; "" when there is none.
func (s *Server) ReopenEvents() (string, error) {
	if s.jsonl == nil {
		return "", nil
	}
	return s.jsonl.Path(), s.jsonl.Reopen()
}

// FlushAccess writes the access records held in memory (log rotation:
// before the file is reopened, so that they land in the file they belong
// to; tests that read the log while the server runs).
func (s *Server) FlushAccess() {
	if s.accessBuf != nil {
		s.accessBuf.Flush()
	}
}

// Gateway returns the current gateway.
func (s *Server) Gateway() *Gateway { return s.gw.Load() }

// Metrics returns the process metrics.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// Bus returns the event bus.
func (s *Server) Bus() *events.Bus { return s.bus }

// Store returns the SQLite event store, or nil when none is configured.
func (s *Server) Store() *events.Store { return s.store }

// Shared returns the shared state store (nil when none is configured).
func (s *Server) Shared() store.Store { return s.shared }

// ServeHTTP hands the request to the current gateway.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.gw.Load().ServeHTTP(w, r)
}

// Start binds and serves every listener and the admin listener. It returns
// once everything is accepting connections.
func (s *Server) Start() error {
	cfg := s.gw.Load().Config()
	baseDir := "."
	if cfg.File != "" {
		baseDir = filepath.Dir(cfg.File)
	}
	httpsPort := 0
	for i, lc := range cfg.Listeners {
		if lc.TLS != nil && httpsPort == 0 {
			httpsPort = s.boundPort(i, lc.Addr)
		}
	}
	for i, lc := range cfg.Listeners {
		var tsrv *tlsconf.Server
		if lc.TLS != nil {
			var err error
			tsrv, err = tlsconf.NewServer(lc.TLS, baseDir, s.log)
			if err != nil {
				s.Close(context.Background())
				return fmt.Errorf("listeners[%d] tls: %w", i, err)
			}
			s.tlsSrvs = append(s.tlsSrvs, tsrv)
		}
		addr := lc.Addr
		l, err := listener.New(lc, cfg.Server, tsrv, s, listener.Options{
			Logger:    s.log,
			HTTPSPort: httpsPort,
			OnHandshakeError: func(peer netip.Addr, err error) {
				s.metrics.TLSHandshakeErrors.WithLabelValues(addr).Inc()
				s.bus.Publish(events.Event{
					Type: events.TypeTLSHandshake, Severity: events.SeverityLow,
					ClientIP: addrString(peer), Stage: "tls", Rules: []string{"tls.handshake"},
					Reason: err.Error(), Attrs: map[string]any{"listener": addr},
				})
			},
			// Rapid reset counts against the client: the event is a
			// malformed-request strike for the auto-ban.
			OnResetFlood: func(peer netip.Addr, resets int) {
				s.gw.Load().Report(events.Event{
					Time: s.now(), Type: events.TypeMalformed, Severity: events.SeverityHigh,
					ClientIP: addrString(peer), Stage: MalformedStage, Rules: []string{"listener.rapid-reset"},
					Reason: "HTTP/2 client reset " + strconv.Itoa(resets) + " streams; connection closed",
					Mode:   "block", Attrs: map[string]any{"listener": addr, "resets": resets},
				})
			},
		})
		if err != nil {
			s.Close(context.Background())
			return fmt.Errorf("listeners[%d]: %w", i, err)
		}
		ln, err := s.bind(i, lc.Addr)
		if err != nil {
			s.Close(context.Background())
			return fmt.Errorf("listeners[%d]: %w", i, err)
		}
		s.listeners = append(s.listeners, l)
		s.netLns = append(s.netLns, ln)
		go func() {
			if err := l.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				s.log.Error("listener stopped", "addr", addr, "err", err)
			}
		}()
		scheme := "http"
		if lc.TLS != nil {
			scheme = "https"
		}
		s.log.Info("listening", "addr", ln.Addr().String(), "scheme", scheme, "redirect_https", lc.RedirectHTTPS)
	}
	if !cfg.Admin.Disabled {
		ln := s.opts.AdminListener
		if ln == nil {
			var err error
			if ln, err = net.Listen("tcp", cfg.Admin.Addr); err != nil {
				s.Close(context.Background())
				return fmt.Errorf("admin.addr: %w", err)
			}
		}
		s.adminLn = ln
		// The dashboard's live feeds never end by themselves: their
		// requests' context ends when shutdown begins, so that a graceful
		// shutdown does not wait for browsers to go away.
		adminCtx, endFeeds := context.WithCancel(context.Background())
		s.adminSrv = &http.Server{
			Handler:           admin.Handler(s.adminOptions(cfg)),
			ReadHeaderTimeout: config.DefaultReadHeaderTimeout,
			BaseContext:       func(net.Listener) context.Context { return adminCtx },
		}
		s.adminSrv.RegisterOnShutdown(endFeeds)
		go func() {
			if err := s.adminSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("admin listener stopped", "err", err)
			}
		}()
		s.log.Info("admin listening", "addr", ln.Addr().String())
	}
	s.noteCertificates()
	if s.opts.WatchConfig {
		s.startWatch()
	}
	s.ready.Store(true)
	return nil
}

func (s *Server) boundPort(i int, addr string) int {
	if i < len(s.opts.Listeners) && s.opts.Listeners[i] != nil {
		addr = s.opts.Listeners[i].Addr().String()
	}
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

func (s *Server) bind(i int, addr string) (net.Listener, error) {
	if i < len(s.opts.Listeners) && s.opts.Listeners[i] != nil {
		return s.opts.Listeners[i], nil
	}
	return net.Listen("tcp", addr)
}

// Addrs returns the bound listener addresses, in config order.
func (s *Server) Addrs() []string {
	out := make([]string, len(s.netLns))
	for i, ln := range s.netLns {
		out[i] = ln.Addr().String()
	}
	return out
}

// AdminAddr returns the bound admin address, or "".
func (s *Server) AdminAddr() string {
	if s.adminLn == nil {
		return ""
	}
	return s.adminLn.Addr().String()
}

// TLSServers returns the TLS configurations of the TLS listeners, in order.
func (s *Server) TLSServers() []*tlsconf.Server { return s.tlsSrvs }

// status is the admin API's view of the running gateway.
func (s *Server) status() any {
	g := s.gw.Load()
	apis := make([]map[string]any, 0, len(g.routes))
	ups := g.Upstreams()
	for _, r := range g.routes {
		stages := make([]string, 0, len(r.chain))
		for _, st := range r.chain {
			stages = append(stages, st.Stage.ID())
		}
		apis = append(apis, map[string]any{
			"name": r.name, "hosts": r.hosts, "path_prefix": r.prefix,
			"stages": stages, "upstream": ups[r.name],
		})
	}
	doc := map[string]any{
		"config_file": g.cfg.File,
		"apis":        apis,
		"events":      s.bus.Stats(),
	}
	shared := s.shared
	if l, ok := shared.(crowdsec.Layer); ok {
		shared = l.Unwrap()
	}
	if f, ok := shared.(*store.Fallback); ok {
		doc["store"] = f.Status()
	} else if shared != nil {
		doc["store"] = map[string]any{"backend": shared.Name(), "healthy": true}
	}
	if s.feed != nil {
		doc["crowdsec"] = s.feed.Status()
	}
	doc["config"] = s.configInfo()
	if s.mon.pg != nil {
		doc["postgres"] = s.mon.pg.Stats()
	}
	if s.mon.alerts != nil {
		doc["alerts"] = s.alertStatus()
	}
	return doc
}

// Reload loads the config file again and swaps the new gateway in. On any
// error the old gateway keeps serving; the error is logged, published as an
// event and counted.
func (s *Server) Reload() error {
	err := s.reloadOnce()
	s.noteReload(err, s.gw.Load().Config().File)
	if s.opts.OnReload != nil {
		s.opts.OnReload(err)
	}
	return err
}

func (s *Server) reloadOnce() error {
	s.reload.Lock()
	defer s.reload.Unlock()
	old := s.gw.Load()
	path := old.Config().File
	if path == "" {
		return errors.New("reload: configuration was not loaded from a file")
	}
	cfg, err := config.Load(path)
	if err == nil {
		var gw *Gateway
		if gw, err = New(cfg, s.deps()); err == nil {
			s.warnRestartOnly(old.Config(), cfg)
			s.applyGC(cfg)
			s.gw.Store(gw)
			s.metrics.ReloadResult(true, s.now())
			s.log.Info("configuration reloaded", "file", path, "apis", len(cfg.APIs))
			s.bus.Publish(events.Event{Type: events.TypeConfigReload, Severity: events.SeverityInfo,
				Reason: "configuration reloaded", Attrs: map[string]any{"file": path, "result": "ok"}})
			go old.Close() // after its in-flight requests finish
			return nil
		}
	}
	s.metrics.ReloadResult(false, s.now())
	s.log.Error("configuration reload failed; the previous configuration keeps serving", "file", path, "err", err.Error())
	s.bus.Publish(events.Event{Type: events.TypeConfigReload, Severity: events.SeverityHigh,
		Reason: "configuration reload failed: " + err.Error(), Attrs: map[string]any{"file": path, "result": "error"}})
	return fmt.Errorf("reload: %w", err)
}

// warnRestartOnly logs the parts of a new config that only take effect on
// restart (they are bound to sockets, files and the process).
func (s *Server) warnRestartOnly(old, cur *config.Config) {
	check := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			s.log.Warn("changed setting needs a restart to take effect", "setting", name)
		}
	}
	check("listeners", old.Listeners, cur.Listeners)
	check("admin", old.Admin, cur.Admin)
	check("events", old.Events, cur.Events)
	check("log.access", []any{old.Log.Access, old.Log.AccessBuffer, old.Log.AccessFlush, old.Log.AccessSync},
		[]any{cur.Log.Access, cur.Log.AccessBuffer, cur.Log.AccessFlush, cur.Log.AccessSync})
	check("crowdsec", old.CrowdSec, cur.CrowdSec)
	check("server timeouts", []time.Duration{old.Server.ReadHeaderTimeout, old.Server.ReadTimeout, old.Server.WriteTimeout, old.Server.IdleTimeout},
		[]time.Duration{cur.Server.ReadHeaderTimeout, cur.Server.ReadTimeout, cur.Server.WriteTimeout, cur.Server.IdleTimeout})
}

// Run starts the server and serves until ctx is done, reloading on SIGHUP
// (and on config file changes when Options.WatchConfig is set); then it
// shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := s.Start(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			cfg := s.gw.Load().Config()
			sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
			defer cancel()
			return s.Close(sctx)
		case <-hup:
			// SIGHUP is also the log-rotation signal: reopen the event file.
			if s.jsonl != nil {
				if err := s.jsonl.Reopen(); err != nil {
					s.log.Error("reopening the events file", "err", err)
				}
			}
			_ = s.Reload()
		}
	}
}

// startWatch reloads whenever the config file changes, until Close.
func (s *Server) startWatch() {
	path := s.gw.Load().Config().File
	if path == "" {
		return
	}
	changes, stop, err := watchFile(path, s.log)
	if err != nil {
		s.log.Warn("config file watch unavailable; reload with SIGHUP", "err", err)
		return
	}
	s.stopWatch = stop
	go func() {
		for range changes {
			_ = s.Reload()
		}
	}()
}

// watchSettle is how long a config file must stay unchanged after a write
// before it is reloaded. Editors and `cp` write a file in several steps; a
// reload in the middle would read half a file and report a bogus error.
const watchSettle = 250 * time.Millisecond

// watchFile reports changes to path once they have settled. It watches the
// directory, because editors and config management replace files by
// renaming.
func watchFile(path string, log *slog.Logger) (<-chan struct{}, func(), error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		w.Close()
		return nil, nil, err
	}
	out := make(chan struct{}, 1)
	target := resolved(abs)
	go func() {
		defer close(out)
		settle := time.NewTimer(time.Hour)
		settle.Stop()
		defer settle.Stop()
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				// Kubernetes mounts a ConfigMap as a symlink into a
				// timestamped directory and updates it by swapping the
				// "..data" symlink: no event names the file itself, but
				// what it resolves to changes.
				now := resolved(abs)
				direct := filepath.Clean(ev.Name) == abs && ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename)
				if !direct && now == target {
					continue
				}
				target = now
				settle.Reset(watchSettle)
			case <-settle.C:
				select {
				case out <- struct{}{}:
				default: // a reload is already pending
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn("config file watch", "err", err)
			}
		}
	}()
	return out, func() { w.Close() }, nil
}

// resolved is path with every symlink followed ("" when it cannot be
// resolved, e.g. in the middle of a swap).
func resolved(path string) string {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		return ""
	}
	return p
}

// Close shuts listeners down gracefully (in-flight requests finish within
// ctx), then drains the event bus and closes sinks. WebSocket tunnels are
// closed first: the HTTP server neither waits for nor closes them. When
// ctx ends before every request has finished, the connections left are
// closed, which cancels their requests (and their upstream calls), so
// Close returns soon after ctx ends, with ctx's error.
func (s *Server) Close(ctx context.Context) error {
	s.ready.Store(false)
	if s.stopWatch != nil {
		s.stopWatch()
	}
	g := s.gw.Load()
	if g != nil {
		g.CloseTunnels()
	}
	var first error
	for _, l := range s.listeners {
		if err := l.Shutdown(ctx); err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		for _, l := range s.listeners {
			_ = l.Close()
		}
	}
	if s.adminSrv != nil {
		if err := s.adminSrv.Shutdown(ctx); err != nil {
			_ = s.adminSrv.Close()
		}
	}
	for _, t := range s.tlsSrvs {
		t.Close()
	}
	if g != nil {
		g.CloseTunnels() // any opened while the listeners drained
		g.Close()
	}
	s.closeAll()
	return first
}

func (s *Server) closeAll() {
	if s.feed != nil {
		_ = s.feed.Close()
	}
	if s.shared != nil {
		_ = s.shared.Close()
	}
	if s.bus != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.bus.Close(ctx)
		cancel()
	}
	s.closeMonitor()
	if s.accessBuf != nil {
		_ = s.accessBuf.Close() // before the file under it
	}
	for _, c := range s.closers {
		_ = c.Close()
	}
}
