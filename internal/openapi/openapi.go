// Package openapi is the OpenAPI 3.0/3.1 model shared by the gateway (route
// matching, validation, authorization) and the scanner (planning requests).
// A Spec is loaded and compiled once and then used read-only.
package openapi

// Spec is a compiled OpenAPI description.
type Spec struct{}
