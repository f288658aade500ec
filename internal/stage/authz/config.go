// Package authz is the authorization stage: RBAC (scopes and roles), ABAC and
// object-level authorization with Cedar policies, and BOLA enumeration
// detection.
package authz

// Config is an API's `authz` block.
type Config struct {
	// Scopes required on every operation of the API. Default empty.
	Scopes []string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
}
