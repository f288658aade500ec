package main

import (
	"os"
	"path/filepath"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/stage/detect"
	"github.com/portcullis/portcullis/internal/stage/ratelimit"
)

// The detection demo: every detector at a threshold small enough to trip
// with one printed loop, each from its own documentation address (a
// trusted proxy's X-Forwarded-For), with action ban so that the next line
// shows the decision at work. The demo's own machine (loopback, the other
// sections' requests) is allowlisted: it is never decided against.
// detect.volume judges a bucket against the key's history: the demo uses
// two-second buckets and one bucket of history (production: minutes and
// five), so its printed loop waits for a fresh bucket first.
// demoVolumeBucket is the demo's volume bucket.
const demoVolumeBucket = 2 * time.Second

func init() {
	demoFeatures = append(demoFeatures, demoFeature{
		Name: "detect",
		Configure: func(cfg *config.Config, env *demoEnv) error {
			bans := config.BlockOf[ratelimit.BanConfig](cfg.Stages)
			if bans == nil {
				bans = &ratelimit.BanConfig{}
				cfg.Stages.Set(bans)
			}
			bans.Allow = append(bans.Allow, "127.0.0.0/8", "::1")
			ban := func(th int) detect.Rule {
				return detect.Rule{Threshold: th, Window: time.Minute, Action: detect.ActionBan}
			}
			cfg.Stages.Set(&detect.Config{
				Recon:      &detect.Recon{Rule: ban(8)},
				Undeclared: func() *detect.Rule { r := ban(5); return &r }(),
				Sequence:   &detect.Sequence{Rule: ban(6)},
				Stuffing:   func() *detect.Rule { r := ban(5); return &r }(),
				BruteForce: func() *detect.Rule { r := ban(5); return &r }(),
				Sharing:    &detect.Sharing{Rule: ban(3)},
				Stages:     &detect.StagesRule{Rule: ban(3)},
				Volume: &detect.Volume{Rule: detect.Rule{Action: detect.ActionBan},
					Bucket: demoVolumeBucket, Alpha: 0.5, Factor: 4, Floor: 10, Warmup: 1},
			})
			// Undeclared paths are those the API's description lacks.
			spec := filepath.Join(env.dataDir, "openapi.yaml")
			if err := os.WriteFile(spec, demo.OpenAPI(), 0o644); err != nil {
				return err
			}
			for i := range cfg.APIs {
				if cfg.APIs[i].Name == "demo" && cfg.APIs[i].OpenAPI == "" {
					cfg.APIs[i].OpenAPI = spec
				}
			}
			return nil
		},
		Checks: func(env *demoEnv) []demoCheck {
			from := func(ip string) [][2]string { return [][2]string{{"X-Forwarded-For", ip}} }
			admin := [][2]string{{"Authorization", "Bearer demo-admin-token"}}
			checks := []demoCheck{
				{Title: "detect.recon: 8 answers of 404 in a minute from one client (a wordlist)", Method: "GET", Path: "/pets/9{i}9",
					Headers: from("198.51.100.101"), Repeat: 8, Expect: 404},
				{Title: "detect.recon banned it: 403 on every path, with the detection as reason", Method: "GET", Path: "/pets",
					Headers: from("198.51.100.101"), Expect: 403, Contains: "detect.recon"},
				{Title: "detect.undeclared: 5 paths the description does not have", Method: "GET", Path: "/wp-admin/setup-{i}.php",
					Headers: from("198.51.100.102"), Repeat: 5, Expect: 404},
				{Title: "detect.undeclared banned it", Method: "GET", Path: "/pets", Headers: from("198.51.100.102"), Expect: 403, Contains: "detect.undeclared"},
				{Title: "detect.sequence: walking pet ids 1, 2, 3 ... 6", Method: "GET", Path: "/pets/{i}",
					Headers: from("198.51.100.103"), Repeat: 6, Expect: 200},
				{Title: "detect.sequence banned it", Method: "GET", Path: "/pets", Headers: from("198.51.100.103"), Expect: 403, Contains: "detect.sequence"},
				{Title: "detect.stuffing: 5 failed API keys for 5 accounts from one client", Method: "GET", Path: "/users/alice",
					Headers: append(from("198.51.100.104"), [2]string{"X-Api-Key", "pk_00000000000{i}_stuffed-key-from-a-leaked-list"}), Repeat: 5, Expect: 401},
				{Title: "detect.stuffing banned it", Method: "GET", Path: "/pets", Headers: from("198.51.100.104"), Expect: 403, Contains: "detect.stuffing"},
				{Title: "detect.bruteforce: alice's key id with wrong secrets from 5 clients", Method: "GET", Path: "/users/alice",
					Headers: [][2]string{{"X-Forwarded-For", "198.51.100.11{i}"}, {"X-Api-Key", "pk_a11ce0000001_a-guess-at-alices-secret"}}, Repeat: 5, Expect: 401},
				{Title: "detect.bruteforce took a decision on the account (GET /api/v1/decisions)", Method: "GET", Path: "/api/v1/decisions",
					Base: env.admin, Headers: admin, Expect: 200, Contains: `"key":"principal:a11ce0000001"`},
				{Title: "detect.stages: one client refused by three stages (traversal, oversized body, SQL injection)", Method: "GET",
					Path: "/pets/..%2f..%2fetc%2fpasswd", Headers: from("198.51.100.105"), Expect: 400},
				{Title: "detect.stages: the oversized body", Method: "POST", Path: "/pets", BodySize: 100000,
					Headers: append(from("198.51.100.105"), [2]string{"Content-Type", "application/json"}), Expect: 413},
				{Title: "detect.stages: the SQL injection (the third stage: banned)", Method: "GET", Path: "/search?q=%27%20OR%20%271%27%3D%271",
					Headers: from("198.51.100.105"), Expect: 403},
				{Title: "detect.stages banned it", Method: "GET", Path: "/pets", Headers: from("198.51.100.105"), Expect: 403, Contains: "detect.stages"},
			}
			if demoCredential != nil {
				key := demoCredential(env, "admin")
				checks = append(checks,
					demoCheck{Title: "detect.sharing: the admin's key used from 3 clients", Method: "GET", Path: "/pets",
						Headers: [][2]string{{"X-Forwarded-For", "198.51.100.12{i}"}, key}, Repeat: 3, Expect: 200},
					demoCheck{Title: "detect.sharing banned the principal, from any address (ban.principal)", Method: "GET", Path: "/pets",
						Headers: [][2]string{{"X-Forwarded-For", "198.51.100.129"}, key}, Expect: 403, Contains: "detect.sharing"},
				)
				scraper := [][2]string{from("198.51.100.130")[0], demoCredential(env, "scraper")}
				checks = append(checks,
					demoCheck{Title: "detect.volume: the scraper's usual bucket, one catalogue read", Method: "GET", Path: "/pets",
						Headers: scraper, Expect: 200},
					demoCheck{Title: "detect.volume: the next bucket, ten reads (ten times its baseline, at the floor)", Method: "GET", Path: "/pets",
						Headers: scraper, Repeat: 10, Wait: demoVolumeBucket, Expect: 200},
					demoCheck{Title: "detect.volume banned the principal", Method: "GET", Path: "/pets",
						Headers: scraper, Expect: 403, Contains: "detect.volume"},
				)
			}
			return append(checks, demoCheck{Title: "decisions name the detector that took them (GET /api/v1/decisions; the detections and their evidence: /api/v1/events?type=detection)",
				Method: "GET", Path: "/api/v1/decisions", Base: env.admin, Headers: admin, Expect: 200, Contains: `"origin":"detect.recon"`})
		},
	})
}
