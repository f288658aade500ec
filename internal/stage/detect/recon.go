package detect

// recon is detect.recon: bursts of error answers (401, 404, 405) per
// client, what mapping an API with a wordlist or a scanner looks like.
// Every such answer counts, whoever gave it (the gateway or the upstream).
type recon struct {
	r        Rule
	statuses []int
}

func newRecon(c Recon) *recon {
	r := &recon{r: c.Rule.withDefaults("recon"), statuses: c.Statuses}
	if len(r.statuses) == 0 {
		r.statuses = []int{401, 404, 405}
	}
	return r
}

func (d *recon) name() string { return "recon" }
func (d *recon) rule() Rule   { return d.r }

func (d *recon) probes(f *facts) []probe {
	if !contains(d.statuses, f.status) {
		return nil
	}
	k := f.keyOf(d.r.Key)
	if k == "" {
		return nil
	}
	s := f.sighting(d, k, f.x.ID, 0) // every answer counts: the request id is the member
	s.Ref = ""
	return []probe{{d: d, key: k, s: s}}
}
