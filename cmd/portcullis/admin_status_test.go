package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"testing"
)

// TestAdminStatusKeyStyle: /api/v1/status of the running demo (event sinks,
// store, upstreams, every stage) uses snake_case keys only.
func TestAdminStatusKeyStyle(t *testing.T) {
	env, err := startDemo("127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", slog.LevelError)
	if err != nil {
		t.Fatal(err)
	}
	defer env.close()
	req, _ := http.NewRequest("GET", env.admin+"/api/v1/status", nil)
	req.Header.Set("Authorization", "Bearer demo-admin-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"config_file", "apis", "events", "store"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("status lacks %q: %v", k, doc)
		}
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if !snake.MatchString(k) {
					t.Errorf("key %q at %s is not snake_case", k, path)
				}
				walk(path+"/"+k, e)
			}
		case []any:
			for _, e := range v {
				walk(path+"/*", e)
			}
		}
	}
	walk("", doc)
}
