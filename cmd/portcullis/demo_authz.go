package main

import (
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/stage/authz"
)

// demoCredential returns the request header that authenticates a demo user
// ("alice", "bob" or "admin"): an API key or a token. The identity feature
// (demo_identity.go) sets it from its own demo keys; while it is nil the
// demo has no principals and the authz checks are not printed (the authz
// block is still configured, so the rules are in force).
var demoCredential func(env *demoEnv, user string) [2]string

// demoAuthz is the demo's authz block: admin-only writes on pets (BFLA),
// users that only read themselves and orders that only their owner reads
// or places (BOLA), and enumeration detection on orders.
func demoAuthz() *authz.Config {
	return &authz.Config{
		Operations: map[string]authz.Operation{
			"PUT /pets/{id}":    {Roles: []string{"admin"}},
			"DELETE /pets/{id}": {Roles: []string{"admin"}},
		},
		Owners: []authz.Owner{
			{Operation: "GET /users/{id}", Param: "id"},
			{Operation: "GET /orders/{id}", ResponseField: "/owner"},
			{Operation: "POST /orders", BodyField: "/owner"},
		},
		Enumeration: &authz.Enumeration{Threshold: 20, Operations: []string{"GET /orders/{id}", "GET /users/{id}"}},
	}
}

func init() {
	demoFeatures = append(demoFeatures, demoFeature{
		Name: "authz",
		Configure: func(cfg *config.Config, env *demoEnv) error {
			for i := range cfg.APIs {
				if cfg.APIs[i].Name == "demo" && config.BlockOf[authz.Config](cfg.APIs[i].Stages) == nil {
					cfg.APIs[i].Stages.Set(demoAuthz())
				}
			}
			return nil
		},
		Checks: func(env *demoEnv) []demoCheck {
			if demoCredential == nil {
				return nil
			}
			as := func(user string) [][2]string { return [][2]string{demoCredential(env, user)} }
			json := func(user string) [][2]string {
				return append(as(user), [2]string{"Content-Type", "application/json"})
			}
			return []demoCheck{
				{Title: "alice reads her own order", Method: "GET", Path: "/orders/ord-1001", Headers: as("alice"), Expect: 200},
				{Title: "BOLA: alice reads bob's order", Method: "GET", Path: "/orders/ord-1002", Headers: as("alice"), Expect: 403},
				{Title: "an admin reads bob's order", Method: "GET", Path: "/orders/ord-1002", Headers: as("admin"), Expect: 200},
				{Title: "alice reads her own profile", Method: "GET", Path: "/users/alice", Headers: as("alice"), Expect: 200},
				{Title: "BOLA: alice reads bob's profile", Method: "GET", Path: "/users/bob", Headers: as("alice"), Expect: 403},
				{Title: "BOLA: alice places an order in bob's name", Method: "POST", Path: "/orders", Headers: json("alice"),
					Body: `{"owner":"bob","pet_id":1,"quantity":1}`, Expect: 403},
				{Title: "BFLA: alice (a user) replaces a pet, an admin-only operation", Method: "PUT", Path: "/pets/5", Headers: json("alice"),
					Body: `{"name":"Fido","tag":"dog","status":"available"}`, Expect: 403},
				{Title: "an admin replaces the pet", Method: "PUT", Path: "/pets/5", Headers: json("admin"),
					Body: `{"name":"Fido","tag":"dog","status":"available"}`, Expect: 200},
				{Title: "BFLA: alice deletes a pet, an admin-only operation", Method: "DELETE", Path: "/pets/5", Headers: as("alice"), Expect: 403},
			}
		},
	})
}
