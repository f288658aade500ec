package detect

// bruteforce is detect.bruteforce: distinct clients failing to
// authenticate as one account, a distributed guess at one password (a
// single client guessing is what login throttling stops, and its 429s
// count as failures here too). The key is the account; a decision on it
// is a principal decision, so the default action is alert: banning the
// victim's account is the operator's call.
type bruteforce struct{ r Rule }

func newBruteForce(c Rule) *bruteforce { return &bruteforce{r: c.withDefaults("bruteforce")} }

func (d *bruteforce) name() string { return "bruteforce" }
func (d *bruteforce) rule() Rule   { return d.r }

func (d *bruteforce) probes(f *facts) []probe {
	if !f.authFailed || f.account == "" || f.client == "" {
		return nil
	}
	k := f.keyOf(KeyAccount)
	return []probe{{d: d, key: k, s: f.sighting(d, k, f.client, 0)}}
}
