package gateway

import "github.com/portcullis/portcullis/internal/pipeline"

// buildBan builds the auto-ban check (config: bans). Owned by the abuse work.
func buildBan(b *build) (pipeline.Stage, error) { return nil, nil }
