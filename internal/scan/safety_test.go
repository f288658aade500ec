package scan

import (
	"testing"

	"github.com/portcullis/portcullis/internal/openapi"
)

func TestDangerousOperations(t *testing.T) {
	tests := []struct {
		method, path, id, summary string
		want                      bool
	}{
		{"GET", "/createdb", "", "", true},
		{"GET", "/api/reset-db", "", "", true},
		{"POST", "/admin/delete_all", "", "", true},
		{"GET", "/x", "resetDatabase", "", true},
		{"GET", "/x", "", "Drops and recreates the database", true},
		{"POST", "/cache/flush", "", "", true},
		{"DELETE", "/notes/{id}", "deleteNote", "Delete one of the caller's notes", false},
		{"POST", "/reset-password", "resetPassword", "Send a reset code", false},
		{"GET", "/users/{username}", "getUser", "Read a user", false},
		{"POST", "/notes", "createNote", "Create a note", false},
		{"GET", "/dropdown-options", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.id, func(t *testing.T) {
			op := &openapi.Operation{Method: tt.method, Path: tt.path, ID: tt.id, Summary: tt.summary}
			why, got := dangerous(op)
			if got != tt.want {
				t.Errorf("got %v (%s), want %v", got, why, tt.want)
			}
		})
	}
}

func TestSelectors(t *testing.T) {
	op := &openapi.Operation{Method: "PUT", Path: "/notes/{id}", ID: "replaceNote", Tags: []string{"notes", "write"}}
	tests := []struct {
		sel  string
		want bool
	}{
		{"replaceNote", true},
		{"replacenote", false},
		{"PUT /notes/{id}", true},
		{"put /notes/{id}", true},
		{"GET /notes/{id}", false},
		{"* /notes/*", true},
		{"/notes/{id}", true},
		{"/notes", false},
		{"tag:write", true},
		{"tag:admin", false},
	}
	for _, tt := range tests {
		if got := selector(tt.sel).matches(op); got != tt.want {
			t.Errorf("%q: got %v, want %v", tt.sel, got, tt.want)
		}
	}
	for _, bad := range []string{"", "tag:", "GET notes", "/[x"} {
		if validSelector(bad) == nil {
			t.Errorf("%q: got no error, want one", bad)
		}
	}
}
