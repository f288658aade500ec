package waf

import (
	"strings"

	"github.com/portcullis/portcullis/internal/pipeline"
)

// Module registers the stage: the API's waf block. The CRS is compiled
// here, once per API and load.
var Module = pipeline.ModuleOf[Config]{ID: ID, Key: "waf",
	New: func(b *pipeline.Build, _, c *Config) (pipeline.Stage, error) {
		if c == nil {
			return nil, nil
		}
		return New(*c, Options{BaseDir: b.Path("."), API: b.API, Store: b.Store})
	}}

// OperationKeys implements pipeline.OperationNamer: the exclusions'
// operations written as "METHOD /path" (an operationId names an operation
// of the description and is matched by id).
func (c *Config) OperationKeys() []string {
	var out []string
	for _, e := range c.Exclusions {
		if strings.Contains(strings.TrimSpace(e.Operation), " ") {
			out = append(out, e.Operation)
		}
	}
	return out
}
