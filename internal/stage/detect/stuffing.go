package detect

// stuffing is detect.stuffing: failed authentications for distinct
// accounts from one client, what replaying a leaked credential list looks
// like. A failure counts when authn refused the request (the account is
// the key id of a presented API key) or a login operation failed or was
// throttled (the account is read from the request, see Config.Logins).
// One user mistyping a password fails for one account only.
type stuffing struct{ r Rule }

func newStuffing(c Rule) *stuffing { return &stuffing{r: c.withDefaults("stuffing")} }

func (d *stuffing) name() string { return "stuffing" }
func (d *stuffing) rule() Rule   { return d.r }

func (d *stuffing) probes(f *facts) []probe {
	if !f.authFailed || f.account == "" {
		return nil
	}
	k := f.keyOf(d.r.Key)
	if k == "" {
		return nil
	}
	return []probe{{d: d, key: k, s: f.sighting(d, k, f.account, 0)}}
}
