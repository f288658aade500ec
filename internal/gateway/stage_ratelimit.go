package gateway

import (
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

// upstreamKey names an upstream by its targets, in any order, so that APIs
// sending to the same targets share one concurrency cap.
func upstreamKey(targets []string) string {
	t := slices.Clone(targets)
	slices.Sort(t)
	return strings.Join(t, " ")
}
