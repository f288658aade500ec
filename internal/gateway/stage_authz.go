package gateway

import (
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/authz"
)

// buildAuthz builds the authorization stage (config: apis[].authz).
func buildAuthz(b *build) (pipeline.Stage, error) {
	if b.api.Authz == nil {
		return nil, nil
	}
	opts := authz.Options{
		API:   b.api.Name,
		Store: b.store,
		Now:   b.now,
		Path:  b.cfg.Path,
	}
	if b.api.StripPrefix {
		opts.StripPrefix = b.api.PathPrefix
	}
	if b.spec != nil {
		opts.Security = map[string][]authz.SecurityRequirement{}
		for _, op := range b.spec.Operations() {
			var reqs []authz.SecurityRequirement
			for _, r := range op.Security {
				reqs = append(reqs, authz.SecurityRequirement(r))
			}
			opts.Security[op.Key()] = reqs
		}
	}
	return authz.New(*b.api.Authz, opts)
}
