// Package contract is the response contract stage: each upstream answer
// is held against the response its operation declares in the API's
// OpenAPI description (status, content type, schema), and properties the
// schema does not declare (a password hash, an is_admin flag, an internal
// id: excessive data exposure, OWASP API3) are removed before the client
// sees them, or the answer is refused.
package contract

import (
	"fmt"
	"sort"

	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/units"
)

// Modes of the stage and of each operation.
const (
	// ModeFilter removes undeclared properties and lets the answer through.
	ModeFilter = "filter"
	// ModeBlock replaces an answer that breaks its contract with a 502.
	ModeBlock = "block"
	// ModeLog lets every answer through unchanged and records each breach.
	ModeLog = "log"
	// ModeOff leaves an operation's answers alone (per operation only).
	ModeOff = "off"
)

// DefaultMaxBodyBytes is the largest answer checked when max_body_bytes is
// not set.
const DefaultMaxBodyBytes = 1 << 20

// Config is an API's `contract` block: the upstream's answers are held
// against the responses the API's OpenAPI description declares (it needs
// apis[].openapi). Default: none.
type Config struct {
	// Mode is what happens to an answer that breaks its contract: "filter"
	// (default) removes the properties its schema does not declare and lets
	// the rest through; "block" replaces the answer with a 502 problem
	// (undeclared properties and values that do not match the schema);
	// "log" lets it through unchanged. Every breach is an event in every
	// mode.
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
	// OpenObjects treats object schemas that declare properties but say
	// nothing about others as JSON Schema does: anything else is allowed.
	// Default false: an object's contract is the properties it declares,
	// which is how excessive data exposure is caught (an explicit
	// `additionalProperties: true` or a schema for them always allows
	// more).
	OpenObjects bool `yaml:"open_objects,omitempty" json:"open_objects,omitempty"`
	// Undeclared is what an answer with a status code or content type the
	// operation does not declare means: "log" (default: counted and an
	// event, the answer passes) or "block" (502).
	Undeclared string `yaml:"undeclared,omitempty" json:"undeclared,omitempty"`
	// MaxBodyBytes is the largest answer body (after gzip decoding) the
	// stage buffers to check. A larger one, a stream (server-sent events,
	// NDJSON) or a body in an encoding the gateway cannot decode (br,
	// zstd) is not buffered: it passes unchecked (or is refused when
	// Unchecked is "block"), counted in
	// portcullis_detections_total{stage="contract",rule="contract.unchecked"}.
	// Default 1MiB; zero means the default.
	MaxBodyBytes units.Bytes `yaml:"max_body_bytes,omitempty" json:"max_body_bytes,omitempty"`
	// Unchecked is what a JSON answer that could not be checked means:
	// "pass" (default) or "block" (502).
	Unchecked string `yaml:"unchecked,omitempty" json:"unchecked,omitempty"`
	// Operations set another mode for some operations ("GET /users/{id}":
	// {mode: block}), or "off" to leave their answers alone. Keys are
	// operations of the description ("METHOD /path/template").
	Operations map[string]Operation `yaml:"operations,omitempty" json:"operations,omitempty"`
}

// Operation is one operation's setting.
type Operation struct {
	// Mode is "filter", "block", "log" or "off". Default: the block's mode.
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
}

// Validate reports problems with the block.
func (c Config) Validate() field.List {
	var errs field.List
	mode := func(path, m string, off bool) {
		switch m {
		case "", ModeFilter, ModeBlock, ModeLog:
		case ModeOff:
			if off {
				return
			}
			fallthrough
		default:
			want := "filter, block or log"
			if off {
				want = "filter, block, log or off"
			}
			errs = append(errs, field.Errorf(path, "got %q, want %s", m, want))
		}
	}
	mode("mode", c.Mode, false)
	switch c.Undeclared {
	case "", "log", "block":
	default:
		errs = append(errs, field.Errorf("undeclared", "got %q, want log or block", c.Undeclared))
	}
	switch c.Unchecked {
	case "", "pass", "block":
	default:
		errs = append(errs, field.Errorf("unchecked", "got %q, want pass or block", c.Unchecked))
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, field.Errorf("max_body_bytes", "must not be negative (0 means %d)", DefaultMaxBodyBytes))
	}
	for _, k := range c.OperationKeys() {
		if _, _, err := openapi.ParseOperationKey(k); err != nil {
			errs = append(errs, field.Errorf(fmt.Sprintf("operations[%q]", k), "%v", err))
		}
		mode(fmt.Sprintf("operations[%q].mode", k), c.Operations[k].Mode, true)
	}
	return errs
}

// OperationKeys implements pipeline.OperationNamer.
func (c *Config) OperationKeys() []string {
	keys := make([]string, 0, len(c.Operations))
	for k := range c.Operations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
