package demo

import (
	_ "embed"
	"slices"
)

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 description (YAML) of the API NewAPI
// serves: every path, method, parameter, body and response. The caller gets
// its own copy and may modify it.
func OpenAPI() []byte {
	return slices.Clone(openAPI)
}
