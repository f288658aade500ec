package authz

import "testing"

func TestOwnerPolicyIDsKeepMethodsApart(t *testing.T) {
	owners := []Owner{
		{Operation: "GET /notes/{id}", Param: "id"},
		{Operation: "PUT /notes/{id}", Param: "id"},
		{Operation: "GET /users/{id}", Param: "id", ID: "mine"},
	}
	got := ownerPolicyIDs(owners)
	want := []string{"authz.bola.owner-notes-id", "authz.bola.owner-notes-id-put", "mine"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("owner %d: got %q, want %q", i, got[i], want[i])
		}
	}
	if errs := (Config{Owners: owners}).Validate(); len(errs) != 0 {
		t.Errorf("validate: got %v, want no problems", errs)
	}
	if _, err := New(Config{Owners: owners}, Options{API: "t"}); err != nil {
		t.Errorf("new: %v", err)
	}
}
