package gateway

import (
	"path/filepath"

	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/waf"
)

// buildWAF builds the signature-detection stage (config: apis[].waf). The
// Coraza WAF with the CRS is compiled here, once per API and load.
func buildWAF(b *build) (pipeline.Stage, error) {
	if b.api.WAF == nil {
		return nil, nil
	}
	opts := waf.Options{}
	if b.cfg.File != "" {
		opts.BaseDir = filepath.Dir(b.cfg.File)
	}
	return waf.New(*b.api.WAF, opts)
}
