// Package authn is the authentication stage: API keys, JWT (JWKS), OAuth2
// token introspection, mTLS identity and signed requests.
package authn

// Config is an API's `authn` block.
type Config struct {
	// Methods lists the authentication methods in the order they are tried.
	Methods []string `yaml:"methods,omitempty" json:"methods,omitempty"`
}
