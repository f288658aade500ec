// Package validate is the positive-security stage: requests are checked
// against the API's OpenAPI description and anything it does not declare is
// refused.
package validate

import "github.com/portcullis/portcullis/internal/field"

// Config is an API's `validate` block: the OpenAPI description enforced on
// requests (and optionally responses). It requires the API's `openapi` file.
// Default: none.
type Config struct {
	// Mode is "block" (default: refuse what the description does not
	// allow) or "log" (record a detection event and let the request
	// through, to roll enforcement out safely).
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
	// RejectUnknownQuery refuses query parameters the operation does not
	// declare (400). Default false: undeclared query parameters pass (and
	// are still inspected by the waf stage). An operation can also ask for
	// it with the extension `x-portcullis-reject-unknown-query: true`.
	RejectUnknownQuery bool `yaml:"reject_unknown_query,omitempty" json:"reject_unknown_query,omitempty"`
	// StrictObjects treats every object schema of a request body as if it
	// said `additionalProperties: false` where the description says nothing
	// about additional properties (mass-assignment protection). Default
	// false.
	StrictObjects bool `yaml:"strict_objects,omitempty" json:"strict_objects,omitempty"`
	// ValidateResponses checks JSON responses of up to 1 MiB against the
	// declared response schema; in block mode a mismatch becomes a 502.
	// Default false.
	ValidateResponses bool `yaml:"validate_responses,omitempty" json:"validate_responses,omitempty"`
	// MaxErrors is the most field errors reported for one request (1-100).
	// Default 10; zero means the default.
	MaxErrors int `yaml:"max_errors,omitempty" json:"max_errors,omitempty"`
}

// Validate reports problems with the block.
func (c Config) Validate() field.List {
	var errs field.List
	switch c.Mode {
	case "", "block", "log":
	default:
		errs = append(errs, field.Errorf("mode", "got %q, want block or log", c.Mode))
	}
	if c.MaxErrors < 0 || c.MaxErrors > 100 {
		errs = append(errs, field.Errorf("max_errors", "got %d, want 1 to 100 (0 means 10)", c.MaxErrors))
	}
	return errs
}
