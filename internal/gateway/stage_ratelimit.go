package gateway

import (
	"fmt"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/ratelimit"
)

// buildRateLimitBeforeAuthn builds the limits keyed by client data only
// (IP, header, route), which run before authentication.
func buildRateLimitBeforeAuthn(b *build) (pipeline.Stage, error) {
	return buildRateLimit(b, ratelimit.BeforeAuthn)
}

// buildRateLimitAfterAuthn builds the limits keyed by principal or API key,
// quotas, concurrency caps and load shedding.
func buildRateLimitAfterAuthn(b *build) (pipeline.Stage, error) {
	return buildRateLimit(b, ratelimit.AfterAuthn)
}

func buildRateLimit(b *build, phase ratelimit.Phase) (pipeline.Stage, error) {
	if err := checkRateLimitOperations(b); err != nil {
		return nil, err
	}
	l, err := ratelimit.New(b.api.RateLimit, phase, ratelimit.Options{
		API:      b.api.Name,
		Store:    b.store,
		Now:      b.now,
		Upstream: upstreamKey(b.api.Upstream.Targets),
	})
	if err != nil || l == nil {
		return nil, err // never a typed nil in the interface
	}
	return l, nil
}

// checkRateLimitOperations refuses `operations` that can never match. The
// exchange's operation ("GET /pets/{id}") comes from the API's OpenAPI
// description, so without one, or with a name it does not declare, such a
// limit would silently never apply.
func checkRateLimitOperations(b *build) error {
	rl := b.api.RateLimit
	if rl == nil {
		return nil
	}
	var ops []string
	for _, l := range rl.Limits {
		ops = append(ops, l.Operations...)
	}
	for _, q := range rl.Quotas {
		ops = append(ops, q.Operations...)
	}
	for _, t := range rl.Tiers {
		for _, l := range t.Limits {
			ops = append(ops, l.Operations...)
		}
		for _, q := range t.Quotas {
			ops = append(ops, q.Operations...)
		}
	}
	if len(ops) == 0 {
		return nil
	}
	if b.spec == nil {
		return fmt.Errorf("ratelimit operations %q need the API's openapi description (or use path_prefix)", ops[0])
	}
	known := map[string]bool{}
	for _, o := range b.spec.Operations() {
		known[o.Key()] = true
	}
	for _, op := range ops {
		if !known[op] {
			return fmt.Errorf("ratelimit operation %q is not in the API's openapi description (expected \"METHOD /path/template\")", op)
		}
	}
	return nil
}

// upstreamKey names an upstream by its targets, in any order, so that APIs
// sending to the same targets share one concurrency cap.
func upstreamKey(targets []string) string {
	t := slices.Clone(targets)
	slices.Sort(t)
	return strings.Join(t, " ")
}
