// Package mask is the sensitive-data masking stage: card numbers, IBANs,
// social security numbers, cloud and SaaS credentials, private keys, JWTs
// and password hashes (detected by internal/dlp) and members named like
// secrets are masked, removed or refused in upstream answers before they
// reach the client. Each masking is an event that names the kind and the
// place, never the value.
package mask

import (
	"fmt"
	"sort"
	"strings"

	"github.com/portcullis/portcullis/internal/dlp"
	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/units"
)

// Actions of a detection or a field rule.
const (
	// ActionMask replaces the value (card numbers keep their last digits).
	ActionMask = "mask"
	// ActionDrop removes the member (or array element) holding the value.
	ActionDrop = "drop"
	// ActionBlock replaces the whole answer with a 502 problem.
	ActionBlock = "block"
	// ActionLog lets the value through and records it.
	ActionLog = "log"
	// ActionOff turns a kind off.
	ActionOff = "off"
)

// DefaultMaxBodyBytes is the largest answer inspected when max_body_bytes
// is not set.
const DefaultMaxBodyBytes = 1 << 20

// DefaultFields are the member names removed from every answer unless
// default_fields is false: passwords and their hashes, card security
// codes and secrets that no client should ever be sent. Names compare
// case-insensitively and ignoring '_', '-', '.' and spaces, so
// "passwordHash", "password_hash" and "Password-Hash" are one name.
var DefaultFields = []string{
	"password", "passwd", "pwd", "password_hash", "hashed_password", "pass_hash", "password_digest",
	"encrypted_password", "password_salt", "secret", "client_secret", "api_secret", "secret_key",
	"private_key", "otp_secret", "totp_secret", "mfa_secret", "cvv", "cvc", "cvv2", "cvc2",
}

// Config is an API's `mask` block: sensitive values in the upstream's
// answers. Default: none.
type Config struct {
	// Action is what happens to a detected value: "mask" (default: replaced
	// by Replacement; a card number keeps its last CardDigits digits),
	// "drop" (the member or array element holding it is removed), "block"
	// (the whole answer becomes a 502 problem) or "log" (it passes). Every
	// detection is an event in every mode.
	Action string `yaml:"action,omitempty" json:"action,omitempty"`
	// Kinds sets the action of some kinds ({jwt: off, card: block}); a kind
	// not listed takes Action. The kinds: card, iban, ssn, aws, gcp,
	// github, slack, private-key, jwt, password-hash. "off" stops looking
	// for that kind. Default: every kind, with Action.
	Kinds map[string]string `yaml:"kinds,omitempty" json:"kinds,omitempty"`
	// Fields are rules by member name, applied to the member's whole value
	// (every string and number inside it). They add to DefaultFields.
	Fields []Field `yaml:"fields,omitempty" json:"fields,omitempty"`
	// DefaultFields, when false, leaves DefaultFields out. Default true.
	DefaultFields *bool `yaml:"default_fields,omitempty" json:"default_fields,omitempty"`
	// Replacement is what a masked value becomes. Default "****".
	Replacement string `yaml:"replacement,omitempty" json:"replacement,omitempty"`
	// CardDigits is how many trailing digits of a masked card number stay
	// visible (PCI DSS allows the last four). Default 4; negative shows
	// none.
	CardDigits int `yaml:"card_digits,omitempty" json:"card_digits,omitempty"`
	// MaxBodyBytes is the largest answer body (after gzip decoding) the
	// stage buffers to inspect. A larger one, a stream or a body in an
	// encoding the gateway cannot decode passes uninspected (or is refused
	// when Unchecked is "block"), counted in
	// portcullis_detections_total{stage="mask",rule="mask.unchecked"}.
	// Default 1MiB; zero means the default.
	MaxBodyBytes units.Bytes `yaml:"max_body_bytes,omitempty" json:"max_body_bytes,omitempty"`
	// Unchecked is what an answer that could not be inspected means:
	// "pass" (default) or "block" (502).
	Unchecked string `yaml:"unchecked,omitempty" json:"unchecked,omitempty"`
	// Operations change the kinds' actions for some operations, or turn
	// masking off there: {"POST /login": {kinds: {jwt: off}}} lets a
	// login answer carry its token. Keys are "METHOD /path/template".
	Operations map[string]Operation `yaml:"operations,omitempty" json:"operations,omitempty"`
}

// Field is a rule for members with a name.
type Field struct {
	// Name is the member name, compared case-insensitively and ignoring
	// '_', '-', '.' and spaces; "*" matches any run of characters
	// ("*_token", "internal*"). Required.
	Name string `yaml:"name" json:"name"`
	// Action is "mask" (default), "drop", "block" or "log".
	Action string `yaml:"action,omitempty" json:"action,omitempty"`
	// Operations limit the rule to these operations. Default: every
	// operation.
	Operations []string `yaml:"operations,omitempty" json:"operations,omitempty"`
}

// Operation is one operation's setting.
type Operation struct {
	// Off leaves the operation's answers alone. Default false.
	Off bool `yaml:"off,omitempty" json:"off,omitempty"`
	// Kinds set the action of some kinds for this operation, as the
	// block's Kinds do.
	Kinds map[string]string `yaml:"kinds,omitempty" json:"kinds,omitempty"`
}

func checkAction(errs *field.List, path, a string, off bool) {
	switch a {
	case "", ActionMask, ActionDrop, ActionBlock, ActionLog:
		return
	case ActionOff:
		if off {
			return
		}
	}
	want := "mask, drop, block or log"
	if off {
		want = "mask, drop, block, log or off"
	}
	*errs = append(*errs, field.Errorf(path, "got %q, want %s", a, want))
}

func checkKinds(errs *field.List, path string, kinds map[string]string) {
	for _, k := range sortedKeys(kinds) {
		if _, ok := dlp.ParseKind(k); !ok {
			*errs = append(*errs, field.Errorf(path+"."+k, "unknown kind %q (want one of %s)", k, dlp.KindNames()))
			continue
		}
		checkAction(errs, path+"."+k, kinds[k], true)
	}
}

// Validate reports problems with the block.
func (c Config) Validate() field.List {
	var errs field.List
	checkAction(&errs, "action", c.Action, false)
	checkKinds(&errs, "kinds", c.Kinds)
	for i, f := range c.Fields {
		p := fmt.Sprintf("fields[%d]", i)
		if normalize(f.Name) == "" {
			errs = append(errs, field.Errorf(p+".name", "is required (a member name such as password or *_token)"))
		}
		checkAction(&errs, p+".action", f.Action, false)
		for j, op := range f.Operations {
			if _, _, err := openapi.ParseOperationKey(op); err != nil {
				errs = append(errs, field.Errorf(fmt.Sprintf("%s.operations[%d]", p, j), "%v", err))
			}
		}
	}
	switch c.Unchecked {
	case "", "pass", "block":
	default:
		errs = append(errs, field.Errorf("unchecked", "got %q, want pass or block", c.Unchecked))
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, field.Errorf("max_body_bytes", "must not be negative (0 means %d)", DefaultMaxBodyBytes))
	}
	for _, k := range sortedKeys(c.Operations) {
		p := fmt.Sprintf("operations[%q]", k)
		if _, _, err := openapi.ParseOperationKey(k); err != nil {
			errs = append(errs, field.Errorf(p, "%v", err))
		}
		checkKinds(&errs, p+".kinds", c.Operations[k].Kinds)
	}
	return errs
}

// OperationKeys implements pipeline.OperationNamer.
func (c *Config) OperationKeys() []string {
	keys := sortedKeys(c.Operations)
	for _, f := range c.Fields {
		keys = append(keys, f.Operations...)
	}
	return keys
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// normalize folds a member name the way field rules compare it.
func normalize(name string) string {
	return string(appendNormalized(nil, []byte(strings.TrimSpace(name))))
}

func appendNormalized(dst, name []byte) []byte {
	for _, c := range name {
		switch {
		case c == '_' || c == '-' || c == '.' || c == ' ':
		case c >= 'A' && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
