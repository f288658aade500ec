// Package validate is the positive-security stage: requests are checked
// against the API's OpenAPI description and anything it does not declare is
// refused.
package validate

// Config is an API's `validate` block. It requires the API's `openapi` file.
type Config struct {
	// Mode is "block" (default: refuse what the description does not
	// allow) or "log" (record a detection and let the request through).
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
}
