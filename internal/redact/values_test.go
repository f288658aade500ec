package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/events"
)

const (
	card = "4111111111111111"
	akid = "AKIAIOSFODNN7EXAMPLE"
	tok  = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
)

func TestEventIsMasked(t *testing.T) {
	attrs := map[string]any{"detail": "token " + tok, "nested": map[string]any{"list": []any{"card " + card}}, "n": 3}
	in := events.Event{Path: "/cards/" + card, Reason: "key " + akid, Excerpt: "password=$2b$12$" + strings.Repeat("a", 53), Attrs: attrs}
	var got events.Event
	p := Publisher(events.PublisherFunc(func(e events.Event) bool { got = e; return true }))
	p.Publish(in)
	all := got.Path + got.Reason + got.Excerpt + fmtAny(got.Attrs)
	for _, secret := range []string{card, akid, tok, strings.Repeat("a", 53)} {
		if strings.Contains(all, secret) {
			t.Errorf("the event still holds %q: %+v", secret, got)
		}
	}
	if !strings.Contains(got.Path, "[REDACTED:card]") || got.Attrs["n"] != 3 {
		t.Errorf("masked event: %+v", got)
	}
	if attrs["detail"] != "token "+tok {
		t.Error("the caller's attribute map was changed in place")
	}
}

func fmtAny(v any) string {
	var b bytes.Buffer
	slog.New(slog.NewTextHandler(&b, nil)).Info("", "v", v)
	return b.String()
}

func TestHandlerMasksLogRecords(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(Handler(slog.NewJSONHandler(&buf, nil)))
	log.Info("upstream said "+akid, "path", "/pay/"+card, "err", errors.New("bad token "+tok),
		slog.Group("req", slog.String("ua", "curl "+card)), "clean", "nothing here")
	log.With("key", akid).Warn("with")
	out := buf.String()
	for _, secret := range []string{card, akid, tok} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, `"clean":"nothing here"`) || strings.Count(out, "[REDACTED:") < 5 {
		t.Errorf("log:\n%s", out)
	}
}

func TestHandlerPassesCleanRecordsWithoutCopying(t *testing.T) {
	h := Handler(slog.NewJSONHandler(discard{}, nil))
	log := slog.New(h)
	n := testing.AllocsPerRun(200, func() {
		log.Info("access", "path", "/pets/1", "status", 200, "ua", "Mozilla/5.0 (X11; Linux x86_64)")
	})
	plain := slog.New(slog.NewJSONHandler(discard{}, nil))
	m := testing.AllocsPerRun(200, func() {
		plain.Info("access", "path", "/pets/1", "status", 200, "ua", "Mozilla/5.0 (X11; Linux x86_64)")
	})
	// Under -race sync.Pool drops items at random (slog's buffers among
	// them), so either side may allocate a buffer now and then; a copy of
	// the record costs several allocations, which the slack does not hide.
	slack := 0.0
	if raceEnabled {
		slack = 1
	}
	if n > m+slack {
		t.Errorf("masking a clean record costs %v allocations, a plain handler %v", n, m)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
