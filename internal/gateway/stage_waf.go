package gateway

import "github.com/portcullis/portcullis/internal/pipeline"

// buildWAF builds the signature-detection stage (config: apis[].waf).
func buildWAF(b *build) (pipeline.Stage, error) { return nil, nil }
