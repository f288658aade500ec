package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/listener"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/proxy"
	"github.com/portcullis/portcullis/internal/stage"
	"github.com/portcullis/portcullis/internal/tlsconf"
)

// buildRoute compiles the i-th API: its description and operation matcher,
// one stage per registry entry that is configured for it, and its upstream.
func (g *Gateway) buildRoute(i int) (*route, error) {
	api := &g.cfg.APIs[i]
	r := &route{name: api.Name, prefix: api.PathPrefix}
	for _, h := range api.Hosts {
		r.hosts = append(r.hosts, normalizeHost(h))
	}
	if err := checkBlocks(fmt.Sprintf("apis[%d]", i), api.Stages, pipeline.ScopeAPI); err != nil {
		return nil, err
	}
	spec, err := loadSpec(api)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	if r.ops, err = g.operations(i, spec); err != nil {
		return nil, err
	}
	b := &pipeline.Build{
		API:           api.Name,
		First:         i == 0,
		Spec:          spec,
		Operations:    r.ops,
		Upstream:      api.Upstream.Targets,
		Store:         g.deps.Store,
		Events:        g.deps.Events,
		Logger:        g.deps.Logger,
		Now:           g.deps.Now,
		Path:          g.cfg.Path,
		ResolveSecret: g.cfg.ResolveSecret,
		ConnState:     listener.ConnState,
		Global: func(key string) any {
			if b, ok := g.cfg.Stages[key]; ok {
				return b
			}
			return nil
		},
	}
	if api.StripPrefix && api.PathPrefix != "/" {
		b.StripPrefix = api.PathPrefix
	}
	b.Headers = g.declaredHeaders(i, spec)
	for _, m := range stage.Registry {
		var global, own any
		if m.ConfigScope()&pipeline.ScopeGlobal != 0 {
			global = g.cfg.Stages[m.ConfigKey()]
		}
		if m.ConfigScope()&pipeline.ScopeAPI != 0 {
			own = api.Stages[m.ConfigKey()]
		}
		st, err := m.Build(b, global, own)
		if err != nil {
			r.chain.Close()
			return nil, g.blockError(i, m, own, err)
		}
		if st == nil {
			continue
		}
		if bl, ok := st.(pipeline.BodyLimiter); ok {
			r.bodyLimit = bl.BodyLimit()
		}
		if o, ok := st.(pipeline.EventObserver); ok {
			r.observers = append(r.observers, o)
		}
		if o, ok := st.(pipeline.ExchangeObserver); ok {
			r.exchangeObservers = append(r.exchangeObservers, o)
		}
		r.chain = append(r.chain, pipeline.Step{Stage: g.traced(st)})
	}
	opts := proxy.Options{
		Publisher:       g.deps.Events,
		Logger:          g.deps.Logger,
		Now:             g.deps.Now,
		IsTLS:           isTLS,
		StripPrefix:     b.StripPrefix,
		ModifyResponse:  func(resp *http.Response) error { return g.modifyResponse(r, resp) },
		WrapTransport:   g.wrapTransport(),
		ObserveUpstream: g.observeUpstream(api.Name),
	}
	if api.Upstream.TLS != nil {
		tc, err := tlsconf.Upstream(api.Upstream.TLS, g.baseDir())
		if err != nil {
			r.chain.Close()
			return nil, fmt.Errorf("upstream tls: %w", err)
		}
		opts.TLS = tc
	}
	up, err := proxy.New(api.Name, api.Upstream, opts)
	if err != nil {
		r.chain.Close()
		return nil, fmt.Errorf("upstream: %w", err)
	}
	r.upstream = up
	return r, nil
}

// declaredHeaders are the request header names API i declares: header
// parameters and apiKey schemes of its description, then the headers its
// own and the top-level stage blocks name (pipeline.HeaderNamer), in that
// order, each once.
func (g *Gateway) declaredHeaders(i int, spec *openapi.Spec) []string {
	var names []string
	seen := map[string]bool{}
	add := func(n string) {
		if k := strings.ToLower(n); n != "" && !seen[k] {
			seen[k] = true
			names = append(names, n)
		}
	}
	if spec != nil {
		for _, op := range spec.Operations() {
			for _, p := range op.Parameters {
				if p.In == "header" {
					add(p.Name)
				}
			}
		}
		schemes := make([]string, 0, len(spec.SecuritySchemes))
		for name := range spec.SecuritySchemes {
			schemes = append(schemes, name)
		}
		slices.Sort(schemes)
		for _, name := range schemes {
			if ss := spec.SecuritySchemes[name]; ss.Type == "apiKey" && ss.In == "header" {
				add(ss.Name)
			}
		}
	}
	for _, blocks := range []config.Blocks{g.cfg.APIs[i].Stages, g.cfg.Stages} {
		keys := make([]string, 0, len(blocks))
		for k := range blocks {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if n, ok := blocks[k].(pipeline.HeaderNamer); ok {
				for _, h := range n.HeaderNames() {
					add(h)
				}
			}
		}
	}
	return names
}

// blockError names the stage whose build failed and, when the config came
// from a file, where its block was written (file:line:column).
func (g *Gateway) blockError(i int, m pipeline.Module, own any, err error) error {
	err = fmt.Errorf("stage %s: %w", m.StageID(), err)
	src := g.cfg.Source
	if src == nil || m.ConfigKey() == "" {
		return err
	}
	path := fmt.Sprintf("apis[%d].%s", i, m.ConfigKey())
	if own == nil {
		path = m.ConfigKey() // the top-level block
	}
	if _, ok := src.Position(path); !ok {
		return err
	}
	return src.Problem(path, err.Error())
}

func (g *Gateway) baseDir() string {
	return g.cfg.Path(".")
}

// checkBlocks refuses blocks no registry entry of scope reads: a typo in a
// config built in code (a file's unknown keys are refused when it is
// parsed), which would otherwise silently leave a stage out.
func checkBlocks(where string, blocks config.Blocks, scope pipeline.Scope) error {
	for key := range blocks {
		known := false
		for _, m := range stage.Registry {
			if m.ConfigKey() == key && m.ConfigScope()&scope != 0 {
				known = true
			}
		}
		if !known {
			if where == "" {
				where = "the top level"
			}
			return fmt.Errorf("%s: no stage reads a %q block here", where, key)
		}
	}
	return nil
}

// loadSpec loads and compiles the API's OpenAPI description, or returns nil
// when it has none. The config loader has already made api.OpenAPI
// absolute. When the API strips its path prefix before proxying, the spec
// matches the path as the upstream sees it.
func loadSpec(api *config.API) (*openapi.Spec, error) {
	if api.OpenAPI == "" {
		return nil, nil
	}
	spec, err := openapi.Load(api.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("loading the description: %w", err)
	}
	if api.StripPrefix && api.PathPrefix != "" && api.PathPrefix != "/" {
		spec = spec.WithStrippedPrefix(api.PathPrefix)
	}
	return spec, nil
}

// operations builds the i-th API's one operation matcher. With a
// description it is the description, and every operation a stage block
// names must be one it declares (a rule for an undeclared operation would
// silently never apply). Without one, it declares apis[].operations and
// every operation the blocks name; nil when there are none.
func (g *Gateway) operations(i int, spec *openapi.Spec) (*openapi.Spec, error) {
	api := &g.cfg.APIs[i]
	type named struct{ key, block string }
	var names []named
	for _, op := range api.Operations {
		names = append(names, named{op, "operations"})
	}
	keys := make([]string, 0, len(api.Stages))
	for k := range api.Stages {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if n, ok := api.Stages[k].(pipeline.OperationNamer); ok {
			for _, op := range n.OperationKeys() {
				names = append(names, named{op, k})
			}
		}
	}
	if spec != nil {
		declared := map[string]bool{}
		for _, op := range spec.Operations() {
			declared[op.Key()] = true
		}
		for _, n := range names {
			method, path, err := openapi.ParseOperationKey(n.key)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", n.block, err)
			}
			if !declared[method+" "+path] {
				return nil, fmt.Errorf("%s: operation %q is not in the API's openapi description (expected \"METHOD /path/template\" as the description writes it)", n.block, n.key)
			}
		}
		return spec, nil
	}
	if len(names) == 0 {
		return nil, nil
	}
	keysOnly := make([]string, len(names))
	for j, n := range names {
		keysOnly[j] = n.key
	}
	m, err := openapi.FromOperations(keysOnly)
	if err != nil {
		return nil, fmt.Errorf("operations: %w", err)
	}
	if api.StripPrefix && api.PathPrefix != "" && api.PathPrefix != "/" {
		m = m.WithStrippedPrefix(api.PathPrefix)
	}
	return m, nil
}

// match sets the exchange's operation from the route's matcher.
func (r *route) match(x *pipeline.Exchange) {
	if r.ops == nil {
		return
	}
	_, params, res := r.ops.Match(x.Request.Method, x.Request.URL.EscapedPath())
	x.Match = res
	if res.Operation != nil {
		x.Operation = res.Operation.Key()
		x.PathParams = params
	}
}

// stageIDs lists the stage ids of a chain, for logs and tests.
func stageIDs(c pipeline.Chain) string {
	ids := make([]string, len(c))
	for i, s := range c {
		ids[i] = s.Stage.ID()
	}
	return strings.Join(ids, " ")
}
