package decision

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/store"
)

// ErrNotActive is returned by Extend when no decision is in force on the
// key.
var ErrNotActive = errors.New("no decision is active on the key")

// Extend makes the active decision on key end at until (an operator
// lengthening a ban from the dashboard) and publishes it as a "decision"
// event with action "extend". It counts no strike: the offender did
// nothing new. An until not after the decision's current end is refused
// (shortening is revoking and deciding again).
func (is *Issuer) Extend(ctx context.Context, key string, until time.Time, origin string) (store.Decision, error) {
	scope, value, ok := store.ParseDecisionKey(key)
	if !ok {
		return store.Decision{}, fmt.Errorf("decision key %q is not scope:value", key)
	}
	ds, err := is.store.Lookup(ctx, []string{key}, netip.Addr{})
	if err != nil {
		return store.Decision{}, err
	}
	var cur store.Decision
	found := false
	for _, d := range ds {
		if d.Scope == scope && d.Value == value {
			cur, found = d, true
		}
	}
	if !found {
		return store.Decision{}, ErrNotActive
	}
	if !until.After(cur.Until) {
		return store.Decision{}, fmt.Errorf("the decision on %s already lasts until %s", key, cur.Until.UTC().Format(time.RFC3339))
	}
	prev := cur.Until
	cur.Until = until
	if err := is.store.Decide(ctx, cur); err != nil {
		return store.Decision{}, fmt.Errorf("storing the decision: %w", err)
	}
	is.publish(events.Event{Attrs: map[string]any{"by": origin}}, cur, "extend", fmt.Sprintf("%s %s %s extended by %s from %s to %s", cur.Type, cur.Scope, cur.Value,
		origin, prev.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339)))
	return cur, nil
}
