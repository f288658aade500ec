package main

import (
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/stage/ratelimit"
)

// The abuse demo: a client identified by the X-Demo-Client header may send
// 3 requests a minute (requests without the header are not counted, so the
// other demo sections are unaffected). Its 429s are security events; three
// of them ban its address for a minute.
const (
	demoAttacker  = "198.51.100.23" // RFC 5737 documentation address
	demoBystander = "198.51.100.24"
)

func init() {
	demoFeatures = append(demoFeatures, demoFeature{
		Name: "abuse",
		Configure: func(cfg *config.Config, env *demoEnv) error {
			for i := range cfg.APIs {
				if cfg.APIs[i].Name != "demo" {
					continue
				}
				rl := config.BlockOf[ratelimit.Config](cfg.APIs[i].Stages)
				if rl == nil {
					rl = &ratelimit.Config{}
					cfg.APIs[i].Stages.Set(rl)
				}
				rl.Limits = append(rl.Limits, ratelimit.Limit{
					Name: "demo-client", Key: []string{"header:X-Demo-Client"}, Rate: 3, Per: time.Minute,
				})
			}
			cfg.Stages.Set(&ratelimit.BanConfig{
				Threshold: 3,
				Window:    time.Minute,
				Duration:  time.Minute,
				Events:    []string{"ratelimit"},
			})
			return nil
		},
		Checks: func(env *demoEnv) []demoCheck {
			client := func(ip, id string) [][2]string {
				return [][2]string{{"X-Forwarded-For", ip}, {"X-Demo-Client", id}}
			}
			var out []demoCheck
			for i := 1; i <= 3; i++ {
				out = append(out, demoCheck{
					Title:  "rate limit: request " + strconv.Itoa(i) + " of 3 allowed per minute (add -i to see RateLimit and RateLimit-Policy)",
					Method: "GET", Path: "/pets", Headers: client(demoAttacker, "greedy"), Expect: 200,
				})
			}
			for i := 4; i <= 6; i++ {
				out = append(out, demoCheck{
					Title:  "rate limit: request " + strconv.Itoa(i) + " is refused with 429, Retry-After and RateLimit headers (each 429 counts towards a ban)",
					Method: "GET", Path: "/pets", Headers: client(demoAttacker, "greedy"), Expect: 429,
				})
			}
			return append(out,
				demoCheck{Title: "another client keeps its own limit", Method: "GET", Path: "/pets",
					Headers: client(demoBystander, "polite"), Expect: 200},
				demoCheck{Title: "the admin API lists the ban (GET /api/v1/bans; DELETE /api/v1/bans/ip:" + demoAttacker + " lifts it)",
					Method: "GET", Path: "/api/v1/bans", Base: env.admin,
					Headers: [][2]string{{"Authorization", "Bearer demo-admin-token"}}, Expect: 200,
					Contains: `"key":"ip:` + demoAttacker + `"`},
				demoCheck{Title: "after three 429s the client is banned for a minute: 403 on every path", Method: "GET", Path: "/pets",
					Headers: [][2]string{{"X-Forwarded-For", demoAttacker}}, Expect: 403},
			)
		},
	})
}
