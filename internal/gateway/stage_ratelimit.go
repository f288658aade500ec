package gateway

import "github.com/portcullis/portcullis/internal/pipeline"

// buildRateLimitBeforeAuthn builds the limits keyed by client data only
// (IP, header, route), which run before authentication.
func buildRateLimitBeforeAuthn(b *build) (pipeline.Stage, error) { return nil, nil }

// buildRateLimitAfterAuthn builds the limits keyed by principal or API key,
// quotas, concurrency caps and load shedding.
func buildRateLimitAfterAuthn(b *build) (pipeline.Stage, error) { return nil, nil }
