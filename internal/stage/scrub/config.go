// Package scrub is the error scrubbing stage: upstream error answers that
// carry internals (stack traces, SQL errors, framework debug pages,
// internal file paths) become one generic RFC 9457 problem with the
// request id. The operator finds what the upstream said in the event, as
// a short excerpt with secrets masked.
package scrub

import (
	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/units"
)

// DefaultMaxBodyBytes is the largest error body inspected when
// max_body_bytes is not set.
const DefaultMaxBodyBytes = 256 << 10

// Config is an API's `scrub` block: what the upstream's error answers may
// show. Default: none.
type Config struct {
	// Mode is "leaks" (default: a 5xx answer is replaced when it shows a
	// stack trace, an SQL error, a debug page or an internal path),
	// "always" (every 5xx body is replaced, whatever it says) or "log"
	// (answers pass unchanged; each leak is an event).
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
	// ClientErrors also inspects 4xx answers (a 400 with a stack trace).
	// They are replaced only when they leak, in every mode. Default false.
	ClientErrors bool `yaml:"client_errors,omitempty" json:"client_errors,omitempty"`
	// MaxBodyBytes is the largest error body (after gzip decoding) read to
	// look for leaks; a larger one is replaced in mode "always" and passes
	// in the other modes, counted (rule scrub.unchecked). Default 256KiB;
	// zero means the default.
	MaxBodyBytes units.Bytes `yaml:"max_body_bytes,omitempty" json:"max_body_bytes,omitempty"`
}

// Validate reports problems with the block.
func (c Config) Validate() field.List {
	var errs field.List
	switch c.Mode {
	case "", "leaks", "always", "log":
	default:
		errs = append(errs, field.Errorf("mode", "got %q, want leaks, always or log", c.Mode))
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, field.Errorf("max_body_bytes", "must not be negative (0 means %d)", DefaultMaxBodyBytes))
	}
	return errs
}
