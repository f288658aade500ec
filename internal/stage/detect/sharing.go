package detect

// sharing is detect.sharing: one principal or API key used from more
// distinct clients within the window than its profile allows (the
// threshold, or its tier's), a shared or stolen credential.
type sharing struct {
	r     Rule
	tiers map[string]int
}

func newSharing(c Sharing) *sharing {
	return &sharing{r: c.Rule.withDefaults("sharing"), tiers: c.Tiers}
}

func (d *sharing) name() string { return "sharing" }
func (d *sharing) rule() Rule   { return d.r }

func (d *sharing) probes(f *facts) []probe {
	if f.client == "" || f.principal == "" || f.authFailed {
		return nil
	}
	k := f.keyOf(d.r.Key)
	if k == "" {
		return nil
	}
	return []probe{{d: d, key: k, s: f.sighting(d, k, f.client, 0), threshold: d.tiers[f.tier]}}
}
