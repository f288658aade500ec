package waf

import (
	ahocorasick "github.com/petar-dambovaliev/aho-corasick"
)

// Gates: one Aho-Corasick pass over a value finds which detectors can
// possibly match it, so that ordinary text never reaches their regular
// expressions (Go's regexp costs tens of microseconds per kilobyte; the
// pass costs about a microsecond). The automaton is Coraza's own
// dependency.

// gate is a bit set of detectors worth running on a value.
type gate uint16

const (
	gateJSCall gate = 1 << iota
	gateJSGlobal
	gateSSJS
	gateMail
	gateDeserialize
	gateXPath
	gateWindows
	gateVBS
	gateSQL
)

var (
	gateAC       ahocorasick.AhoCorasick
	gateOfPatten []gate
)

func init() {
	groups := []struct {
		g     gate
		words []string
	}{
		{gateJSCall, jsCallWords}, {gateJSGlobal, jsGlobalWords}, {gateSSJS, ssjsWords}, {gateMail, mailWords},
		{gateDeserialize, deserializeWords}, {gateXPath, xpathWords}, {gateWindows, windowsMarkers},
		{gateWindows, []string{"set /a", "%systemroot%", "%windir%", "%comspec%", "%programfiles%", "%temp%\\", "%appdata%", "%userprofile%", "%systemdrive%", "%homedrive%"}},
		{gateVBS, []string{"execute(", "executeglobal", "wscript.", "chr(", "chrw(", "chrb("}},
		{gateSQL, []string{"or ", "and ", "xor ", "||", "&&", "order", ";", "sp_password", "xp_cmdshell", "waitfor", "union", "select"}},
	}
	var pats []string
	for _, g := range groups {
		for _, w := range g.words {
			pats = append(pats, w)
			gateOfPatten = append(gateOfPatten, g.g)
		}
	}
	b := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{AsciiCaseInsensitive: true, MatchKind: ahocorasick.StandardMatch, DFA: true})
	gateAC = b.Build(pats)
}

// gates returns the detectors worth running on v.
func gates(v string) gate {
	var g gate
	it := gateAC.IterOverlapping(v)
	for m := it.Next(); m != nil; m = it.Next() {
		g |= gateOfPatten[m.Pattern()]
	}
	return g
}
