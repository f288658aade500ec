package gateway

import (
	"github.com/portcullis/portcullis/internal/listener"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/authn"
)

// buildAuthn builds the authentication stage (config: apis[].authn).
func buildAuthn(b *build) (pipeline.Stage, error) {
	if b.api.Authn == nil {
		return nil, nil
	}
	return authn.New(b.api.Authn, authn.Options{
		API:           b.api.Name,
		Store:         b.store,
		Now:           b.now,
		Logger:        b.logger,
		Path:          b.cfg.Path,
		ResolveSecret: b.cfg.ResolveSecret,
		ConnState:     listener.ConnState,
	})
}
