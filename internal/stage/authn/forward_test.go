package authn

import (
	"net/http"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
)

// TestForwardHeadersIndependent checks every principal header and that the
// values, which share one backing array, stay apart when one is appended to.
func TestForwardHeadersIndependent(t *testing.T) {
	s := &Stage{fwd: forward{id: HeaderID, kind: HeaderKind, scopes: HeaderScopes, roles: HeaderRoles, tier: HeaderTier}}
	p := &pipeline.Principal{ID: "alice", Kind: "apikey", Scopes: []string{"read", "write"}, Roles: []string{"user", "ops"},
		Attributes: map[string]any{"tier": "gold\n"}}
	x := pipeline.NewExchange(&http.Request{Header: http.Header{}}, "r", time.Now())
	s.forward(x, p)
	h := x.UpstreamHeader
	h.Add(HeaderID, "appended")
	h.Add(HeaderKind, "appended")
	tests := []struct {
		name string
		want []string
	}{
		{HeaderID, []string{"alice", "appended"}},
		{HeaderKind, []string{"apikey", "appended"}},
		{HeaderScopes, []string{"read write"}},
		{HeaderRoles, []string{"user,ops"}},
		{HeaderTier, []string{"gold%0A"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := h.Values(tt.name)
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			}
		})
	}
}
