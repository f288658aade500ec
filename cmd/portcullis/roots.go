package main

// The fallback root certificates (Mozilla's bundle, embedded) are used only
// when the system has none, as in the FROM scratch image: without them a
// gateway in that image could not verify https upstreams, JWKS endpoints or
// OpenID discovery. Where the system has roots, they are used unchanged.
import _ "golang.org/x/crypto/x509roots/fallback"
