package gateway

import (
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// buildValidate builds the OpenAPI enforcement stage (config: apis[].validate).
func buildValidate(b *build) (pipeline.Stage, error) { return nil, nil }

// loadSpec loads and compiles the API's OpenAPI description, or returns nil
// when it has none.
func loadSpec(api *config.API) (*openapi.Spec, error) { return nil, nil }

// matchOperation sets x.Operation and x.PathParams from the API's
// description, when it has one.
func (r *route) matchOperation(x *pipeline.Exchange) {}
