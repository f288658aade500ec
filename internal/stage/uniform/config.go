// Package uniform is the uniform authentication answers stage: the answers
// of login, password reset and registration operations that would tell an
// attacker whether an account exists (a 404 for an unknown user and a 401
// for a wrong password, "email already registered", a faster answer for
// unknown accounts) are replaced by one configured answer, optionally
// never sooner than a minimum duration.
package uniform

import (
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/openapi"
)

// Kinds of operation.
const (
	KindLogin        = "login"
	KindReset        = "reset"
	KindRegistration = "registration"
)

// Config is an API's `uniform` block. Default: none.
type Config struct {
	// Operations mark the operations whose answers are made uniform, by
	// "METHOD /path/template" ("POST /login": {kind: login}). At least one.
	Operations map[string]Operation `yaml:"operations" json:"operations"`
	// MinDuration is the least time between the request's arrival and its
	// answer on every marked operation, success or failure, so that the
	// time an answer takes does not tell a known account (a password hash
	// to check) from an unknown one. Default 0: off. An operation's own
	// min_duration wins.
	MinDuration time.Duration `yaml:"min_duration,omitempty" json:"min_duration,omitempty"`
}

// Operation marks one operation.
type Operation struct {
	// Kind is "login", "reset" (password reset) or "registration".
	// Required.
	Kind string `yaml:"kind" json:"kind"`
	// Status is the status of the uniform answer. Default: 401 for login,
	// 202 for reset and registration.
	Status int `yaml:"status,omitempty" json:"status,omitempty"`
	// Message is the uniform answer's text. Default: "invalid credentials"
	// (login), "if the account exists, instructions have been sent to its
	// address" (reset), "check your email to finish signing up"
	// (registration).
	Message string `yaml:"message,omitempty" json:"message,omitempty"`
	// Statuses are the upstream statuses that are replaced. Default: the
	// failures that differ by account for login (401, 403, 404, 409, 410,
	// 422, 423); every 2xx and 404, 409, 410, 422 for reset; every 2xx and
	// 409, 422 for registration (its success must not differ from "already
	// registered": the account is confirmed by email). Statuses that say
	// nothing about the account (400 for a malformed request, 429, 5xx)
	// pass.
	Statuses []int `yaml:"statuses,omitempty" json:"statuses,omitempty"`
	// MinDuration overrides the block's MinDuration for this operation.
	MinDuration time.Duration `yaml:"min_duration,omitempty" json:"min_duration,omitempty"`
	// Failure tells a failed login that the upstream answers 2xx ({"ok":
	// false, "message": "no account with this user name"}) from a
	// success, so that its telling message is replaced too. Login only.
	// Default none: every 2xx is a success and passes.
	Failure *Failure `yaml:"failure,omitempty" json:"failure,omitempty"`
}

// Failure is a member of a 2xx JSON answer that marks a failed attempt.
type Failure struct {
	// Pointer is the member's JSON pointer (RFC 6901), "/ok" or
	// "/result/status". Required.
	Pointer string `yaml:"pointer" json:"pointer"`
	// Equals is the member's value on a failure: a string member's text
	// ("failed"), or the JSON of any other member ("false", "0",
	// "null"). Required.
	Equals string `yaml:"equals" json:"equals"`
	// MessagePointer is where the uniform answer puts Message. The
	// uniform answer to a failure is the API's own shape: a JSON object
	// with the failure member at Pointer holding Equals and the message
	// at MessagePointer ({"ok": false, "message": "…"}), so that clients
	// and the API's response schema read it as they read any failure.
	// Default "/message".
	MessagePointer string `yaml:"message_pointer,omitempty" json:"message_pointer,omitempty"`
}

var defaults = map[string]struct {
	status   int
	message  string
	statuses []int
}{
	KindLogin:        {http.StatusUnauthorized, "invalid credentials", []int{401, 403, 404, 409, 410, 422, 423}},
	KindReset:        {http.StatusAccepted, "if the account exists, instructions have been sent to its address", append(twoXX(), 404, 409, 410, 422)},
	KindRegistration: {http.StatusAccepted, "check your email to finish signing up", append(twoXX(), 409, 422)},
}

func twoXX() []int {
	out := make([]int, 0, 100)
	for s := 200; s <= 299; s++ {
		out = append(out, s)
	}
	return out
}

// Validate reports problems with the block.
func (c Config) Validate() field.List {
	var errs field.List
	if len(c.Operations) == 0 {
		errs = append(errs, field.Errorf("operations", "at least one operation is required (\"POST /login\": {kind: login})"))
	}
	if c.MinDuration < 0 || c.MinDuration > time.Minute {
		errs = append(errs, field.Errorf("min_duration", "got %v, want 0 to 1m", c.MinDuration))
	}
	for _, k := range c.OperationKeys() {
		o := c.Operations[k]
		p := fmt.Sprintf("operations[%q]", k)
		if _, _, err := openapi.ParseOperationKey(k); err != nil {
			errs = append(errs, field.Errorf(p, "%v", err))
		}
		if _, ok := defaults[o.Kind]; !ok {
			errs = append(errs, field.Errorf(p+".kind", "got %q, want login, reset or registration", o.Kind))
		}
		if o.Status != 0 && (o.Status < 200 || o.Status > 599) {
			errs = append(errs, field.Errorf(p+".status", "got %d, want an HTTP status from 200 to 599", o.Status))
		}
		for i, s := range o.Statuses {
			if s < 100 || s > 599 {
				errs = append(errs, field.Errorf(fmt.Sprintf("%s.statuses[%d]", p, i), "got %d, want an HTTP status", s))
			}
		}
		if o.MinDuration < 0 || o.MinDuration > time.Minute {
			errs = append(errs, field.Errorf(p+".min_duration", "got %v, want 0 to 1m", o.MinDuration))
		}
		if f := o.Failure; f != nil {
			switch {
			case o.Kind != KindLogin:
				errs = append(errs, field.Errorf(p+".failure", "only a login tells failures from successes; a %s's 2xx answers are all made uniform", o.Kind))
			case f.Pointer == "" || f.Pointer[0] != '/':
				errs = append(errs, field.Errorf(p+".failure.pointer", "got %q, want a JSON pointer such as /ok", f.Pointer))
			case f.Equals == "":
				errs = append(errs, field.Errorf(p+".failure.equals", "required: the member's value on a failure (false, 0, \"failed\")"))
			case f.MessagePointer != "" && (f.MessagePointer[0] != '/' || f.MessagePointer == f.Pointer):
				errs = append(errs, field.Errorf(p+".failure.message_pointer", "got %q, want a JSON pointer other than the failure member's, such as /message", f.MessagePointer))
			}
		}
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
