package gateway

import "github.com/portcullis/portcullis/internal/pipeline"

// buildAuthz builds the authorization stage (config: apis[].authz).
func buildAuthz(b *build) (pipeline.Stage, error) { return nil, nil }
