package authn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"

	"github.com/portcullis/portcullis/internal/pipeline"
)

// mtlsMethod takes the identity from the verified client certificate.
type mtlsMethod struct {
	connState func(*http.Request) *tls.ConnectionState
	identity  string
	roles     []string
	scopes    []string
}

func newMTLSMethod(c *MTLSConfig, o Options) *mtlsMethod {
	m := &mtlsMethod{connState: o.ConnState, identity: c.Identity, roles: c.Roles, scopes: c.Scopes}
	if m.connState == nil {
		m.connState = func(r *http.Request) *tls.ConnectionState { return r.TLS }
	}
	if m.identity == "" {
		m.identity = "cn"
	}
	return m
}

func (m *mtlsMethod) kind() string { return "mtls" }

// challenge is empty: a client certificate is asked for in the TLS
// handshake, not with WWW-Authenticate.
func (m *mtlsMethod) challenge(string) string { return "" }

// present reports whether the client sent a certificate. Options.ConnState
// (the gateway's listener.ConnState) is used rather than r.TLS, which is nil
// for HTTP/1 over the gateway's sniffing TLS listener.
func (m *mtlsMethod) present(r *http.Request) bool {
	st := m.connState(r)
	return st != nil && len(st.PeerCertificates) > 0
}

func (m *mtlsMethod) authenticate(_ context.Context, x *pipeline.Exchange) (*pipeline.Principal, *failure, error) {
	st := m.connState(x.Request)
	// Only a chain the TLS stack verified against the listener's client_ca
	// counts; a certificate presented under client_auth "optional" without
	// verification (VerifiedChains empty) is refused.
	if st == nil || len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return nil, &failure{rule: "authn.mtls.unverified", reason: "the client certificate is not trusted", location: "tls"}, nil
	}
	cert := st.VerifiedChains[0][0]
	id := certIdentity(cert, m.identity)
	if id == "" {
		return nil, &failure{rule: "authn.mtls.identity", reason: "the client certificate carries no usable identity", location: "tls"}, nil
	}
	attrs := map[string]any{
		"sub":     id,
		"subject": cert.Subject.String(),
		"issuer":  cert.Issuer.String(),
		"serial":  cert.SerialNumber.String(),
	}
	return &pipeline.Principal{ID: id, Kind: "mtls", Scopes: m.scopes, Roles: m.roles, Attributes: attrs}, nil, nil
}

func certIdentity(c *x509.Certificate, field string) string {
	switch field {
	case "san-dns":
		if len(c.DNSNames) > 0 {
			return c.DNSNames[0]
		}
	case "san-uri":
		if len(c.URIs) > 0 {
			return c.URIs[0].String()
		}
	case "san-email":
		if len(c.EmailAddresses) > 0 {
			return c.EmailAddresses[0]
		}
	default:
		return c.Subject.CommonName
	}
	return ""
}
