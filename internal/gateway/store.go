package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/decision"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/store"
)

// TypeStore is the event type of a shared-store state change: Redis became
// unreachable and the node fell back, or it came back.
const TypeStore = events.TypeStore

// openStore opens the shared state store from the config's store block.
// Switches to and from the fallback are logged, published as events and
// shown by portcullis_store_fallback / portcullis_store_fallbacks_total.
func openStore(cfg *config.Config, pub events.Publisher, m *metrics.Metrics, log *slog.Logger, now func() time.Time) (store.Store, error) {
	return store.Open(cfg.Store, store.Options{
		Now: now,
		OnChange: func(st store.Status) {
			ev := events.Event{Type: TypeStore, Stage: "store", Attrs: map[string]any{
				"backend": st.Backend, "mode": st.Mode, "fallbacks": st.Fallbacks}}
			if st.Healthy {
				m.StoreFallback.Set(0)
				ev.Severity = events.SeverityInfo
				ev.Rules = []string{"store.recovered"}
				ev.Reason = "shared store reachable again: limits are shared across nodes"
				log.Info("shared store reachable again", "backend", st.Backend)
			} else {
				m.StoreFallback.Set(1)
				m.StoreFallbacks.Inc()
				ev.Severity = events.SeverityHigh
				ev.Rules = []string{"store.fallback"}
				if st.Mode == store.FallbackClosed {
					ev.Reason = "shared store unreachable: requests that need it are refused (fallback: closed)"
				} else {
					ev.Reason = "shared store unreachable: limits are local to this node until it returns"
				}
				ev.Attrs["error"] = st.LastError
				log.Error("shared store unreachable", "backend", st.Backend, "mode", st.Mode, "err", st.LastError)
			}
			if pub != nil {
				pub.Publish(ev)
			}
		},
	})
}

// storeDecisions adapts the shared store to the admin API's decisions
// routes. Every decision taken or revoked there is an event (the audit log
// chains them), with the policy (lengths, allowlist) of the current
// configuration's bans block.
type storeDecisions struct {
	s *Server
}

func (d storeDecisions) issuer() *decision.Issuer {
	var p decision.Policy
	if ps, ok := d.s.gw.Load().Config().Stages["bans"].(decision.PolicySource); ok {
		p = ps.DecisionPolicy()
	}
	return decision.NewIssuer(d.s.shared, d.s.bus, d.s.now, p)
}

func (d storeDecisions) List(ctx context.Context) ([]store.Decision, error) {
	return d.s.shared.Decisions(ctx)
}

func (d storeDecisions) Add(ctx context.Context, r decision.Request) (store.Decision, error) {
	return d.issuer().Issue(ctx, r)
}

func (d storeDecisions) Remove(ctx context.Context, key string) (bool, error) {
	return d.issuer().Revoke(ctx, key, "admin", "revoked through the admin API")
}

func (d storeDecisions) Extend(ctx context.Context, key string, until time.Time) (store.Decision, error) {
	return d.issuer().Extend(ctx, key, until, "admin")
}
