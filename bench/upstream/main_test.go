package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantBody                 string
	}{
		{name: "get", method: "GET", path: "/bench", wantStatus: 200, wantBody: string(getBody)},
		{name: "post echoes length", method: "POST", path: "/bench", body: strings.Repeat("x", 1024), wantStatus: 200, wantBody: `{"received":1024}`},
		{name: "post empty", method: "POST", path: "/bench", wantStatus: 200, wantBody: `{"received":0}`},
		{name: "users page", method: "GET", path: "/bench/users", wantStatus: 200, wantBody: string(usersBody)},
		{name: "health", method: "GET", path: "/healthz", wantStatus: 200, wantBody: `{"status":"ok"}`},
		{name: "other path", method: "GET", path: "/other", wantStatus: 404},
		{name: "other method", method: "PUT", path: "/bench", wantStatus: 405},
	}
	h := handler()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body)))
			if rec.Code != tt.wantStatus {
				t.Fatalf("got status %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
				t.Errorf("got body %s, want %s", rec.Body, tt.wantBody)
			}
			if tt.wantStatus == http.StatusOK && rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("got Content-Type %q, want application/json", rec.Header().Get("Content-Type"))
			}
		})
	}
}
