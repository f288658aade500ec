package report

import (
	"bytes"
	"os"
	"testing"
)

func TestSpecLines(t *testing.T) {
	yamlSrc, err := os.ReadFile("testdata/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	jsonSrc := []byte(`{
  "openapi": "3.0.3",
  "paths": {
    "/pets": {
      "get": {"responses": {}},
      "post": {
        "responses": {}
      }
    },
    "/pets/{id}": {
      "delete": {}
    }
  },
  "components": {}
}`)
	minified := []byte(`{"openapi":"3.0.3","paths":{"/pets":{"get":{}},"/users":{"post":{}}}}`)
	tests := []struct {
		name string
		src  []byte
		op   string
		want int
	}{
		{"yaml get", yamlSrc, "GET /pets", 15},
		{"yaml post after parameters", yamlSrc, "POST /pets", 29},
		{"yaml quoted path", yamlSrc, "GET /pets/{id}", 41},
		{"yaml lowercase method", yamlSrc, "delete /pets/{id}", 46},
		{"yaml method missing: path line", yamlSrc, "PUT /pets/{id}", 34},
		{"yaml unknown path", yamlSrc, "GET /nope", 0},
		{"yaml prefix is not the path", yamlSrc, "GET /pet", 0},
		{"json get", jsonSrc, "GET /pets", 5},
		{"json post", jsonSrc, "POST /pets", 6},
		{"json delete", jsonSrc, "DELETE /pets/{id}", 11},
		{"minified", minified, "POST /users", 1},
		{"minified unknown", minified, "GET /nope", 0},
		{"no method", yamlSrc, "/pets", 0},
		{"empty op", yamlSrc, "", 0},
		{"no source", nil, "GET /pets", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSpecLines(tt.src)
			if got := s.line(tt.op); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if got := s.line(tt.op); got != tt.want { // cached
				t.Errorf("cached: got %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzSpecLines(f *testing.F) {
	src, err := os.ReadFile("testdata/openapi.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(src, "GET /pets")
	f.Add([]byte(`{"paths":{"/a":{"get":{}}}}`), "GET /a")
	f.Add([]byte("paths:\n  '/a':\n    get:\n"), "GET /a")
	f.Add([]byte("\"\n'\n:\n- \n"), " ")
	f.Fuzz(func(t *testing.T, src []byte, op string) {
		n := newSpecLines(src).line(op)
		if n < 0 || n > bytes.Count(src, []byte("\n"))+1 {
			t.Fatalf("got line %d for a %d-line source", n, bytes.Count(src, []byte("\n"))+1)
		}
	})
}
