package openapi

import (
	"strings"
	"testing"
)

// FromOperations is the matcher of APIs without a description: it answers
// exactly like a description's (literal segments before parameters, HEAD
// by GET, 405 with Allow), which authz, ratelimit and waf rely on.
func TestFromOperations(t *testing.T) {
	s, err := FromOperations([]string{"GET /users/{id}", "get /users/me", "GET /users/{id}/orders/{oid}", "GET /pets", "DELETE /pets/{id}", "GET /pets"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Operations()); n != 5 {
		t.Fatalf("got %d operations, want 5 (duplicates merged)", n)
	}
	tests := []struct {
		method, path string
		status       MatchStatus
		op           string
		params       map[string]string
		allow        string
	}{
		{"GET", "/users/bob", Found, "GET /users/{id}", map[string]string{"id": "bob"}, ""},
		{"GET", "/users/me", Found, "GET /users/me", nil, ""},
		{"GET", "/users/bob/orders/7", Found, "GET /users/{id}/orders/{oid}", map[string]string{"id": "bob", "oid": "7"}, ""},
		{"GET", "/users/a%2Fb", Found, "GET /users/{id}", map[string]string{"id": "a/b"}, ""},
		{"HEAD", "/pets", Found, "GET /pets", nil, ""},
		{"GET", "/users/", PathNotFound, "", nil, ""},
		{"GET", "/users", PathNotFound, "", nil, ""},
		{"POST", "/pets", MethodNotAllowed, "", nil, "GET, HEAD"},
		{"PUT", "/pets/3", MethodNotAllowed, "", nil, "DELETE"},
		{"DELETE", "/pets/3", Found, "DELETE /pets/{id}", map[string]string{"id": "3"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			_, params, res := s.Match(tt.method, tt.path)
			if res.Status != tt.status {
				t.Fatalf("status: got %s, want %s", res.Status, tt.status)
			}
			key := ""
			if res.Operation != nil {
				key = res.Operation.Key()
			}
			if key != tt.op || len(params) != len(tt.params) {
				t.Fatalf("got %q %v, want %q %v", key, params, tt.op, tt.params)
			}
			for k, v := range tt.params {
				if params[k] != v {
					t.Fatalf("got %v, want %v", params, tt.params)
				}
			}
			if got := strings.Join(res.Allow, ", "); got != tt.allow {
				t.Errorf("allow: got %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestFromOperationsRefusesBadKeys(t *testing.T) {
	for _, k := range []string{"/users", "FETCH /users", "GET users", "GET /a/{", "GET /a/{x}/{x}"} {
		if _, err := FromOperations([]string{k}); err == nil {
			t.Errorf("%q: got no error, want one", k)
		}
	}
}
