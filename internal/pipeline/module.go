package pipeline

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"time"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/store"
)

// Scope says where a stage's config block may be written.
type Scope uint8

const (
	// ScopeAPI is a block inside an API: apis[].KEY.
	ScopeAPI Scope = 1 << iota
	// ScopeGlobal is a block at the top of the file: KEY. When a stage has
	// both scopes, its constructor gets both blocks and decides how they
	// combine (ipfilter layers them; limits overrides field by field).
	ScopeGlobal
)

// Build is everything a stage constructor gets besides its config blocks:
// the API being compiled and the process-lifetime services. The gateway
// fills every field; function and interface fields are never nil.
type Build struct {
	// API is the name of the API whose chain is being built.
	API string
	// First is true for the config's first API. A stage that must count
	// what happens before routing (a malformed request belongs to no API)
	// counts it on the first API's chain only, so it is counted once.
	First bool
	// Spec is the API's compiled OpenAPI description, nil when it has none.
	// When the API strips its path prefix, Spec matches the path the
	// upstream sees.
	Spec *openapi.Spec
	// Operations is the API's one operation matcher: Spec when there is a
	// description, else the operations declared in config (apis[].operations
	// and every operation a stage block names). Nil when the API declares
	// no operation at all. The gateway matches every request with it before
	// the chain runs (Exchange.Match); stages only read the result.
	Operations *openapi.Spec
	// Headers are the request header names the API declares (as written,
	// without duplicates): the header parameters and header apiKey schemes
	// of its description and every header a stage block names
	// (HeaderNamer). Request hygiene forwards them whatever characters
	// they have (an "api_key" header is the API's own, not a spelling
	// trick).
	Headers []string
	// StripPrefix is the API's path_prefix when strip_prefix is on, else "".
	StripPrefix string
	// Upstream are the API's target URLs, as configured.
	Upstream []string
	// Store is the shared state store (rate limits, bans, nonces, counters).
	Store store.Store
	// Events receives security events that a stage publishes itself (a ban,
	// an enumeration detection); denials and findings on the exchange are
	// published by the gateway.
	Events events.Publisher
	// Logger is the gateway's own log.
	Logger *slog.Logger
	// Now is the clock.
	Now func() time.Time
	// Path makes a file path from the config absolute against the config
	// file's directory.
	Path func(string) string
	// ResolveSecret resolves "file:PATH" secrets (see config.ResolveSecret).
	ResolveSecret func(string) (string, error)
	// ConnState returns the client TLS connection state of a request, nil
	// for plain connections (mTLS identity).
	ConnState func(*http.Request) *tls.ConnectionState
	// Global returns the top-level block of a config key, nil when the
	// config has none: for a stage that depends on another stage's
	// settings without importing its package (detectors read the bans
	// block's decision policy through an interface).
	Global func(key string) any
}

// Module is one entry of the stage registry (internal/stage): a stage id,
// the config block it is built from, and its constructor. The config
// package decodes, documents and exports a JSON Schema for each block from
// ConfigKey and ConfigType, and the gateway builds each API's chain by
// calling Build for every module in registry order.
type Module interface {
	// StageID is the stage's id ("ratelimit.ip"): the log field, the
	// metric label and the event's stage.
	StageID() string
	// ConfigKey is the YAML key of the stage's block ("ratelimit"); ""
	// for a stage that has no block. Several modules may share a key
	// (both rate-limit phases read one ratelimit block).
	ConfigKey() string
	// ConfigScope says where the block may be written.
	ConfigScope() Scope
	// ConfigType is the block's Go type (a struct), nil when ConfigKey is "".
	ConfigType() reflect.Type
	// Build builds the stage for one API. global and api are the blocks
	// written at the top level and in the API, each a pointer to
	// ConfigType or nil when absent. A nil Stage means the stage is not
	// configured for this API and is left out of its chain.
	Build(b *Build, global, api any) (Stage, error)
}

// ModuleOf is a Module whose config block is of type C. Stage packages
// declare one as a package variable and the registry lists it.
type ModuleOf[C any] struct {
	// ID is the stage id.
	ID string
	// Key is the config key; "" for a stage without a block.
	Key string
	// Scope is where the block may be written. Zero means ScopeAPI.
	Scope Scope
	// New builds the stage. global and api are nil when the block is
	// absent there (always nil outside Scope). It returns (nil, nil) when
	// the stage has nothing to do for this API.
	New func(b *Build, global, api *C) (Stage, error)
}

// StageID implements Module.
func (m ModuleOf[C]) StageID() string { return m.ID }

// ConfigKey implements Module.
func (m ModuleOf[C]) ConfigKey() string { return m.Key }

// ConfigScope implements Module.
func (m ModuleOf[C]) ConfigScope() Scope {
	if m.Scope == 0 {
		return ScopeAPI
	}
	return m.Scope
}

// ConfigType implements Module.
func (m ModuleOf[C]) ConfigType() reflect.Type {
	if m.Key == "" {
		return nil
	}
	return reflect.TypeFor[C]()
}

// Build implements Module. It checks the blocks' types (a block of the
// wrong type is a programming error in whoever filled the config) and
// turns a typed nil stage into an untyped one.
func (m ModuleOf[C]) Build(b *Build, global, api any) (Stage, error) {
	g, err := m.block(global)
	if err != nil {
		return nil, err
	}
	a, err := m.block(api)
	if err != nil {
		return nil, err
	}
	st, err := m.New(b, g, a)
	if err != nil || st == nil {
		return nil, err
	}
	if v := reflect.ValueOf(st); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, nil
	}
	return st, nil
}

func (m ModuleOf[C]) block(v any) (*C, error) {
	if v == nil {
		return nil, nil
	}
	c, ok := v.(*C)
	if !ok {
		return nil, fmt.Errorf("stage %s: config block %q is a %T, want %T", m.ID, m.Key, v, (*C)(nil))
	}
	return c, nil
}

// BodyLimiter is implemented by stages that bound the request body. The
// gateway sets Exchange.BodyLimit from it before any stage reads the body.
type BodyLimiter interface {
	BodyLimit() int64
}

// EventObserver is implemented by stages that learn from the security
// events of an exchange (the auto-ban counts them as strikes). The gateway
// calls ObserveEvent synchronously for each event of an exchange, before
// the answer is written, so that what it decides applies to the client's
// very next request. Events of exchanges that matched no API go to the
// first API's chain. ObserveEvent must be quick: it runs on the request
// path of denied requests.
type EventObserver interface {
	ObserveEvent(ctx context.Context, e events.Event) error
}

// ExchangeObserver is implemented by stages that learn from whole
// exchanges, allowed ones included (behavioural detectors count 404s from
// the upstream, failed logins, a principal's volume). The gateway calls
// ObserveExchange synchronously once per exchange, after the outcome is
// known and before a denial is written, with the status answered (or to
// be answered) and the exchange's security events. Exchanges that matched
// no API go to the first API's chain. A route without such a stage pays
// nothing. It must be quick: it runs on every request's path.
type ExchangeObserver interface {
	ObserveExchange(ctx context.Context, o Observed) error
}

// Observed is what an ExchangeObserver sees of one exchange.
type Observed struct {
	// X is the exchange (read only).
	X *Exchange
	// Outcome is what became of it.
	Outcome Outcome
	// Status is the HTTP status answered to the client (for a proxied
	// exchange, the upstream's).
	Status int
	// Events are the exchange's security events.
	Events []events.Event
}

// HeaderNamer is implemented by config blocks that name request headers
// the stage reads (authn's API key and token headers). The gateway adds
// the names to Build.Headers, so request hygiene never drops a header the
// configuration itself asks for.
type HeaderNamer interface {
	HeaderNames() []string
}

// OperationNamer is implemented by config blocks that name operations
// ("GET /users/{id}"): authz rules, ratelimit operations, waf exclusions.
// The gateway checks every name against the API's description (a name it
// does not declare is a load error: the rule would never apply) and, for
// an API without a description, declares the names in its matcher.
type OperationNamer interface {
	OperationKeys() []string
}
