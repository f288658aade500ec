package limits

import "github.com/portcullis/portcullis/internal/units"

// Config is the `limits` block, globally and per API. In an API block, a
// zero field inherits the global value; globally, zero means the default
// given on each field. A negative value switches that limit off.
type Config struct {
	// MaxHeaderBytes caps the total size of request header names and values.
	// Default 32KiB. (The listener's server.max_header_bytes caps what the
	// HTTP parser reads at all.)
	MaxHeaderBytes units.Bytes `yaml:"max_header_bytes,omitempty" json:"max_header_bytes,omitempty"`
	// MaxURLLength caps the request target (path and query) in bytes.
	// Default 8192.
	MaxURLLength int `yaml:"max_url_length,omitempty" json:"max_url_length,omitempty"`
	// MaxQueryParams caps the number of query parameters. Default 100.
	MaxQueryParams int `yaml:"max_query_params,omitempty" json:"max_query_params,omitempty"`
	// MaxBodyBytes caps the request body; larger bodies get 413. Default 1MiB.
	MaxBodyBytes units.Bytes `yaml:"max_body_bytes,omitempty" json:"max_body_bytes,omitempty"`
	// MaxJSONDepth caps the nesting depth of a JSON body. Default 32.
	MaxJSONDepth int `yaml:"max_json_depth,omitempty" json:"max_json_depth,omitempty"`
	// MaxJSONElements caps the number of values (scalars, arrays, objects)
	// in a JSON body. Default 10000.
	MaxJSONElements int `yaml:"max_json_elements,omitempty" json:"max_json_elements,omitempty"`
}
