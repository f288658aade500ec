package main

import (
	"os"
	"path/filepath"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/stage/contract"
	"github.com/portcullis/portcullis/internal/stage/cors"
	"github.com/portcullis/portcullis/internal/stage/csrf"
	"github.com/portcullis/portcullis/internal/stage/headers"
	"github.com/portcullis/portcullis/internal/stage/mask"
	"github.com/portcullis/portcullis/internal/stage/scrub"
	"github.com/portcullis/portcullis/internal/stage/uniform"
)

// The response demo: the demo API's deliberately leaky operations
// (leaky.go) straight and through the gateway. GET /accounts/{id} sends a
// password hash (removed by contract: the description does not declare
// it) and a whole card number (masked by mask); GET /stats fails with a
// stack trace (scrubbed into one problem); POST /login answers 404 for an
// unknown user and 401 for a wrong password (uniform: the same 401).
// Every answer gets the security headers; a page on the demo front end's
// origin may call the API with CORS, a cross-site form post with the
// session cookie is refused.
const (
	demoFrontEnd = "http://localhost:3000" // the demo's allowed CORS origin
	demoEvilSite = "https://evil.example"
)

func init() {
	demoFeatures = append(demoFeatures, demoFeature{
		Name: "response",
		Configure: func(cfg *config.Config, env *demoEnv) error {
			spec := filepath.Join(env.dataDir, "openapi.yaml")
			if err := os.WriteFile(spec, demo.OpenAPI(), 0o644); err != nil {
				return err
			}
			for i := range cfg.APIs {
				api := &cfg.APIs[i]
				if api.Name != "demo" {
					continue
				}
				// contract needs the description; the other stages read
				// the operations it declares.
				api.OpenAPI = spec
				api.Stages.Set(&contract.Config{Mode: contract.ModeFilter})
				api.Stages.Set(&mask.Config{})
				api.Stages.Set(&scrub.Config{})
				api.Stages.Set(&uniform.Config{MinDuration: 100 * time.Millisecond,
					Operations: map[string]uniform.Operation{"POST /login": {Kind: uniform.KindLogin}}})
				api.Stages.Set(&headers.Config{ReportPath: "/csp-report"})
				api.Stages.Set(&cors.Config{Origins: []string{demoFrontEnd}, Credentials: true,
					Methods: []string{"GET", "POST", "PUT", "DELETE"}, Headers: []string{"Content-Type", "X-Api-Key", "Authorization"}})
				api.Stages.Set(&csrf.Config{Cookies: []string{"session"}, JSONOnly: true})
			}
			return nil
		},
		Checks: func(env *demoEnv) []demoCheck {
			json := [][2]string{{"Content-Type", "application/json"}}
			login := func(user, pass string) string { return `{"username":"` + user + `","password":"` + pass + `"}` }
			return []demoCheck{
				{Title: "data exposure straight at the demo API: a password hash and a whole card number", Method: "GET", Path: "/accounts/alice",
					Base: env.upstream, Expect: 200, Contains: `"password_hash"`},
				{Title: "the same account through the gateway: the hash removed (contract), the card masked (mask)", Method: "GET", Path: "/accounts/alice",
					Expect: 200, Contains: `"payment_card":"**** **** **** 1111"`, Absent: "password_hash"},
				{Title: "a stack trace straight at the demo API", Method: "GET", Path: "/stats", Base: env.upstream, Expect: 500, Contains: "goroutine"},
				{Title: "the same error through the gateway: one problem with the request id (scrub)", Method: "GET", Path: "/stats",
					Expect: 500, Contains: `"request_id"`, Absent: "goroutine"},
				{Title: "login straight: an unknown user is a 404 ...", Method: "POST", Path: "/login", Base: env.upstream, Headers: json,
					Body: login("mallory", "guess"), Expect: 404, Contains: "no such user"},
				{Title: "... and a known user with a wrong password a 401: the account exists", Method: "POST", Path: "/login", Base: env.upstream, Headers: json,
					Body: login("alice", "guess"), Expect: 401, Contains: "wrong password"},
				{Title: "login through the gateway: the unknown user gets the uniform 401 (uniform) ...", Method: "POST", Path: "/login", Headers: json,
					Body: login("mallory", "guess"), Expect: 401, Contains: "invalid credentials"},
				{Title: "... and so does the known one", Method: "POST", Path: "/login", Headers: json,
					Body: login("alice", "guess"), Expect: 401, Contains: "invalid credentials"},
				{Title: "a good login through the gateway", Method: "POST", Path: "/login", Headers: json,
					Body: login("alice", "alice-password"), Expect: 200, Contains: `"token"`},
				{Title: "security headers on every answer (add -i to see them all; headers)", Method: "GET", Path: "/pets",
					Expect: 200, Header: [2]string{"Content-Security-Policy", headers.DefaultCSP + "; report-uri /csp-report"}},
				{Title: "CORS: a preflight from the demo front end " + demoFrontEnd + " is answered by the gateway", Method: "OPTIONS", Path: "/pets",
					Headers: [][2]string{{"Origin", demoFrontEnd}, {"Access-Control-Request-Method", "POST"}, {"Access-Control-Request-Headers", "content-type"}},
					Expect:  204, Header: [2]string{"Access-Control-Allow-Origin", demoFrontEnd}},
				{Title: "CORS: a preflight from " + demoEvilSite + " is refused and never reaches the demo API", Method: "OPTIONS", Path: "/pets",
					Headers: [][2]string{{"Origin", demoEvilSite}, {"Access-Control-Request-Method", "POST"}}, Expect: 403},
				{Title: "CSRF: a cross-site form post with the session cookie, straight at the demo API (it creates a pet)", Method: "POST", Path: "/pets",
					Base: env.upstream, Headers: [][2]string{{"Cookie", "session=demo"}, {"Sec-Fetch-Site", "cross-site"}, {"Origin", demoEvilSite}, {"Content-Type", "application/json"}},
					Body: `{"name":"Forged"}`, Expect: 201},
				{Title: "the same forged post through the gateway is refused (csrf)", Method: "POST", Path: "/pets",
					Headers: [][2]string{{"Cookie", "session=demo"}, {"Sec-Fetch-Site", "cross-site"}, {"Origin", demoEvilSite}, {"Content-Type", "application/json"}},
					Body:    `{"name":"Forged"}`, Expect: 403},
			}
		},
	})
}
