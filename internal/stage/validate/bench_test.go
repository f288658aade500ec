package validate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// The benchmarks compare this package (Match + validate, schemas compiled at
// load) with kin-openapi's openapi3filter on the demo description: a GET
// with query parameters and a 1 KB JSON POST. kin-openapi is used only
// here, never in production code. docs/openapi.md records the numbers.

var demoFile = filepath.Join("..", "..", "demo", "openapi.yaml")

const getTarget = "/pets?limit=10&tag=dog"

// body1KB is a valid createPet body (NewPet allows no other fields and
// caps name at 64 characters) padded with insignificant whitespace to
// exactly 1024 bytes, so both validators parse 1 KB of JSON.
var body1KB = func() string {
	b := `{"name":"` + strings.Repeat("R", 60) + `","tag":"dog","status":"available"}`
	return b[:len(b)-1] + strings.Repeat(" ", 1024-len(b)) + "}"
}()

func ourStage(b *testing.B) *Stage {
	spec, err := openapi.Load(demoFile)
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Config{}, spec)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func runOurs(b *testing.B, s *Stage, method, target, body string) {
	b.ReportAllocs()
	for b.Loop() {
		var r *http.Request
		if body != "" {
			r = httptest.NewRequest(method, target, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
		} else {
			r = httptest.NewRequest(method, target, nil)
		}
		x := pipeline.NewExchange(r, "", time.Time{})
		_, params, res := s.spec.Match(method, r.URL.EscapedPath())
		x.PathParams = params
		x.Match = res
		if d, err := s.Request(context.Background(), x); d != nil || err != nil {
			b.Fatalf("got %v %v", d, err)
		}
	}
}

func BenchmarkValidateGET(b *testing.B) {
	runOurs(b, ourStage(b), "GET", getTarget, "")
}

func BenchmarkValidateJSON1KB(b *testing.B) {
	if len(body1KB) != 1024 {
		b.Fatalf("body is %d bytes", len(body1KB))
	}
	runOurs(b, ourStage(b), "POST", "/pets", body1KB)
}

func kin(b *testing.B) (func(r *http.Request) error, func()) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(demoFile)
	if err != nil {
		b.Fatal(err)
	}
	doc.Servers = nil // match paths without a host
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		b.Fatal(err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	return func(r *http.Request) error {
		route, params, err := router.FindRoute(r)
		if err != nil {
			return err
		}
		return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
			Request: r, PathParams: params, Route: route, Options: opts})
	}, func() {}
}

func runKin(b *testing.B, method, target, body string) {
	validateReq, done := kin(b)
	defer done()
	b.ReportAllocs()
	for b.Loop() {
		var r *http.Request
		if body != "" {
			r = httptest.NewRequest(method, target, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
		} else {
			r = httptest.NewRequest(method, target, nil)
		}
		if err := validateReq(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKinOpenAPIGET(b *testing.B) { runKin(b, "GET", getTarget, "") }

func BenchmarkKinOpenAPIJSON1KB(b *testing.B) { runKin(b, "POST", "/pets", body1KB) }
