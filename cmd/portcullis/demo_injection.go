package main

import (
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/stage/waf"
)

// The injection demo: the demo API's deliberately injectable /search
// endpoints, attacked through the gateway (the waf stage blocks, 403) and
// straight at the demo API (nothing stops the attack, 200).
func init() {
	demoFeatures = append(demoFeatures, demoFeature{
		Name: "injection",
		Configure: func(cfg *config.Config, env *demoEnv) error {
			for i := range cfg.APIs {
				if cfg.APIs[i].Name == "demo" && config.BlockOf[waf.Config](cfg.APIs[i].Stages) == nil {
					cfg.APIs[i].Stages.Set(&waf.Config{Mode: waf.ModeBlock, ParanoiaLevel: 1})
				}
			}
			return nil
		},
		Checks: func(env *demoEnv) []demoCheck {
			json := [][2]string{{"Content-Type", "application/json"}}
			attacks := []demoCheck{
				{Title: "SQL injection", Method: "GET", Path: "/search?q=%27%20OR%20%271%27%3D%271"},
				{Title: "cross-site scripting", Method: "GET", Path: "/search?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E"},
				{Title: "command injection", Method: "GET", Path: "/search?q=Rex%3B%20cat%20%2Fetc%2Fpasswd"},
				{Title: "path traversal in a parameter", Method: "GET", Path: "/search?q=..%2F..%2F..%2Fetc%2Fpasswd"},
				{Title: "NoSQL operator injection", Method: "POST", Path: "/search", Headers: json, Body: `{"name":{"$ne":null}}`},
			}
			out := []demoCheck{
				{Title: "an ordinary search through the gateway", Method: "GET", Path: "/search?q=Rex", Expect: 200},
			}
			for _, a := range attacks {
				c := a
				c.Title = a.Title + " through the gateway (blocked by the waf stage)"
				c.Expect = 403
				out = append(out, c)
			}
			for _, a := range attacks {
				c := a
				c.Title = "the same " + a.Title + " straight at the demo API (nothing stops it)"
				c.Expect = 200
				c.Base = env.upstream
				out = append(out, c)
			}
			return out
		},
	})
}
