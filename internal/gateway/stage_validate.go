package gateway

import (
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/validate"
)

// buildValidate builds the OpenAPI enforcement stage (config: apis[].validate).
func buildValidate(b *build) (pipeline.Stage, error) {
	if b.api.Validate == nil {
		return nil, nil
	}
	if b.spec == nil {
		return nil, errors.New("apis[].validate requires apis[].openapi (the API's OpenAPI description)")
	}
	return validate.New(*b.api.Validate, b.spec)
}

// loadSpec loads and compiles the API's OpenAPI description, or returns nil
// when it has none. The config loader has already made api.OpenAPI
// absolute. When the API strips its path prefix before proxying, the spec
// matches the path as the upstream sees it.
func loadSpec(api *config.API) (*openapi.Spec, error) {
	if api.OpenAPI == "" {
		return nil, nil
	}
	spec, err := openapi.Load(api.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("loading the description: %w", err)
	}
	if api.StripPrefix && api.PathPrefix != "" && api.PathPrefix != "/" {
		spec = spec.WithStrippedPrefix(api.PathPrefix)
	}
	return spec, nil
}

// matchOperation sets x.Operation and x.PathParams from the API's
// description, when it has one, and stores the *openapi.MatchResult under
// openapi.MatchKey for the stages (validate answers 404/405 from it).
func (r *route) matchOperation(x *pipeline.Exchange) {
	if r.spec == nil {
		return
	}
	_, params, res := r.spec.Match(x.Request.Method, x.Request.URL.EscapedPath())
	if res.Operation != nil {
		x.Operation = res.Operation.Key()
		x.PathParams = params
	}
	x.Set(openapi.MatchKey, &res)
}
