package proxy

import (
	"net/http"
	"slices"
	"testing"
)

// TestStripOwned checks which client headers stripOwned removes: the
// gateway's own under any spelling, every spelling of a header a stage sets
// for the upstream, connection headers from an untrusted peer, and from a
// trusted one all but the canonical spelling of those the proxy does not
// rebuild.
func TestStripOwned(t *testing.T) {
	client := func() http.Header {
		return http.Header{
			"X-Tenant": {"a"}, "X_tenant": {"b"}, "x.tenant": {"c"}, "X-Tenants": {"d"},
			"X-Principal_Id": {"e"}, "X-Request-Id": {"f"}, "X_Real_Ip": {"g"},
			"X-Forwarded-Port": {"443"}, "X_Forwarded_Port": {"444"}, "X-Forwarded-For": {"1.2.3.4"},
			"Cf-Connecting-Ip": {"5.6.7.8"}, "Accept": {"*/*"},
		}
	}
	set := http.Header{"X-Tenant": {"gateway"}, "X-Region": {"eu"}}
	for _, tt := range []struct {
		name    string
		trusted bool
		want    []string
	}{
		{"untrusted", false, []string{"Accept", "X-Tenants"}},
		{"trusted", true, []string{"Accept", "Cf-Connecting-Ip", "X-Forwarded-Port", "X-Tenants"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := client()
			stripOwned(h, tt.trusted, set)
			var got []string
			for k := range h {
				got = append(got, k)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
