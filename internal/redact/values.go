package redact

import (
	"context"
	"log/slog"

	"github.com/portcullis/portcullis/internal/dlp"
	"github.com/portcullis/portcullis/internal/events"
)

// Values returns s with every sensitive value internal/dlp recognises
// (card numbers, IBANs, SSNs, cloud and SaaS credentials, private keys,
// JWTs, password hashes) replaced by a placeholder such as
// "[REDACTED:card]". It returns s itself, without allocating, when there
// is none. Names (headers, query parameters) are Redactor's job; Values
// catches the same secrets wherever they appear: a path, a user agent, an
// excerpt of a request or of an upstream error page.
func Values(s string) string { return dlp.Redact(s, dlp.All) }

// Event returns e with Values applied to its free-text fields (path,
// reason, location, excerpt) and to every string inside its attributes.
func Event(e events.Event) events.Event {
	e.Path = Values(e.Path)
	e.Reason = Values(e.Reason)
	e.Location = Values(e.Location)
	e.Excerpt = Values(e.Excerpt)
	if len(e.Attrs) > 0 && anySensitive(e.Attrs, 0) {
		attrs := make(map[string]any, len(e.Attrs))
		for k, v := range e.Attrs {
			attrs[k] = maskAny(v, 0)
		}
		e.Attrs = attrs
	}
	return e
}

func anySensitive(v any, depth int) bool {
	if depth > 8 {
		return false
	}
	switch t := v.(type) {
	case string:
		return dlp.Contains(t, dlp.All)
	case map[string]any:
		for _, x := range t {
			if anySensitive(x, depth+1) {
				return true
			}
		}
	case []any:
		for _, x := range t {
			if anySensitive(x, depth+1) {
				return true
			}
		}
	case []string:
		for _, x := range t {
			if dlp.Contains(x, dlp.All) {
				return true
			}
		}
	}
	return false
}

// maskAny copies v with Values applied to its strings (maps and slices are
// copied, never changed in place: an event's attributes may be shared).
func maskAny(v any, depth int) any {
	if depth > 8 {
		return v
	}
	switch t := v.(type) {
	case string:
		return Values(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = maskAny(x, depth+1)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = maskAny(x, depth+1)
		}
		return out
	case []string:
		out := make([]string, len(t))
		for i, x := range t {
			out[i] = Values(x)
		}
		return out
	}
	return v
}

// Publisher returns a publisher that masks every event (Event) before
// handing it to p, so that no sink, alert or dashboard ever receives a
// sensitive value, whichever stage built the event.
func Publisher(p events.Publisher) events.Publisher {
	return events.PublisherFunc(func(e events.Event) bool { return p.Publish(Event(e)) })
}

// Handler returns a slog handler that masks sensitive values (Values) in
// the message and in every string attribute before h writes the record.
// A record without any is passed on as it is, without copying.
func Handler(h slog.Handler) slog.Handler { return &handler{h: h} }

type handler struct{ h slog.Handler }

func (m *handler) Enabled(ctx context.Context, l slog.Level) bool { return m.h.Enabled(ctx, l) }

func (m *handler) Handle(ctx context.Context, r slog.Record) error {
	dirty := dlp.Contains(r.Message, dlp.All)
	r.Attrs(func(a slog.Attr) bool {
		dirty = dirty || attrSensitive(a, 0)
		return !dirty
	})
	if !dirty {
		return m.h.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, Values(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(maskAttr(a, 0))
		return true
	})
	return m.h.Handle(ctx, out)
}

func (m *handler) WithAttrs(as []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(as))
	for i, a := range as {
		masked[i] = maskAttr(a, 0)
	}
	return &handler{h: m.h.WithAttrs(masked)}
}

func (m *handler) WithGroup(name string) slog.Handler { return &handler{h: m.h.WithGroup(name)} }

func attrSensitive(a slog.Attr, depth int) bool {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return dlp.Contains(v.String(), dlp.All)
	case slog.KindGroup:
		for _, g := range v.Group() {
			if depth < 8 && attrSensitive(g, depth+1) {
				return true
			}
		}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return dlp.Contains(x.Error(), dlp.All)
		default:
			return anySensitive(x, depth)
		}
	}
	return false
}

func maskAttr(a slog.Attr, depth int) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Values(v.String()))
	case slog.KindGroup:
		if depth >= 8 {
			return a
		}
		gs := v.Group()
		out := make([]slog.Attr, len(gs))
		for i, g := range gs {
			out[i] = maskAttr(g, depth+1)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Values(x.Error()))
		default:
			return slog.Any(a.Key, maskAny(x, depth))
		}
	}
	return a
}
