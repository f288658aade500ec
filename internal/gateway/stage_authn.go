package gateway

import "github.com/portcullis/portcullis/internal/pipeline"

// buildAuthn builds the authentication stage (config: apis[].authn).
func buildAuthn(b *build) (pipeline.Stage, error) { return nil, nil }
