package detect

// stages is detect.stages: the distinct stages that refused one client
// within the window. An honest client that hits a validation error rarely
// also trips the WAF, authorization and the request limits; an attacker
// trying one technique after another does.
type stages struct {
	r     Rule
	count []string
}

func newStages(c StagesRule) *stages {
	d := &stages{r: c.Rule.withDefaults("stages"), count: c.Count}
	if len(d.count) == 0 {
		d.count = []string{"ipfilter", "limits.request", "authz", "validate", "waf", "listener.malformed", "limits.normalize"}
	}
	return d
}

func (d *stages) name() string { return "stages" }
func (d *stages) rule() Rule   { return d.r }

func (d *stages) probes(f *facts) []probe {
	k := ""
	var out []probe
	for _, st := range f.denied {
		if !contains(d.count, st) {
			continue
		}
		if k == "" {
			if k = f.keyOf(d.r.Key); k == "" {
				return nil
			}
		}
		out = append(out, probe{d: d, key: k, s: f.sighting(d, k, st, 64)})
	}
	return out
}
