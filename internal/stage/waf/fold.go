package waf

import "strings"

// maxRepeat is how many consecutive copies of a short unit inspection
// keeps; longer runs are folded to this many.
const maxRepeat = 8

// fold returns v with every run of more than maxRepeat consecutive copies
// of a unit of 1 to 4 bytes cut to maxRepeat copies ("{{{{…" of 30 KB
// becomes 16 braces). Signatures never depend on how often a unit
// repeats past a few copies, while the cost of regular expressions, of
// the CRS in particular, grows with it: a header of a repeated "{{",
// "&lt;" or "<a>" cost an independent tester a third of a second of CPU
// per request. The value the upstream gets is unchanged; only what the
// detectors read is folded.
func fold(v string) string {
	if len(v) < 2*maxRepeat || !repeats(v) {
		return v
	}
	return foldRuns(v)
}

// foldRuns is fold's scan: it cuts each run it meets, left to right.
func foldRuns(v string) string {
	var b strings.Builder
	last := 0 // v[last:i] not yet written
	for i := 0; i < len(v); {
		folded := false
		for unit := 1; unit <= 4 && i+unit*(maxRepeat+1) <= len(v); unit++ {
			if v[i] != v[i+unit] || v[i] != v[i+2*unit] {
				continue // the common case, without slicing
			}
			u := v[i : i+unit]
			n := 1
			for j := i + unit; j+unit <= len(v) && v[j:j+unit] == u; j += unit {
				n++
			}
			if n > maxRepeat {
				if b.Len() == 0 {
					b.Grow(len(v) / 2)
				}
				b.WriteString(v[last : i+unit*maxRepeat])
				i += unit * n
				last = i
				folded = true
				break
			}
		}
		if !folded {
			i++
		}
	}
	if last == 0 {
		return v
	}
	b.WriteString(v[last:])
	return b.String()
}

// repeats reports whether v holds more than maxRepeat consecutive
// copies of a unit of 1 to 4 bytes, i.e. a stretch of unit*maxRepeat
// bytes (8 or more) each equal to the byte unit places on. fold's own
// scan runs only when it is true; most values, prose among them, have no
// such run.
//
// Such a stretch always covers a byte at a multiple of 8, so only those
// bytes are compared with the four after them; where one is equal, the
// stretch through it is measured. Prose has short equal pairs ("ll",
// "e e") that end within a byte or two.
func repeats(v string) bool {
	for k := 0; k < len(v); k += 8 {
		for unit := 1; unit <= 4 && k+unit < len(v); unit++ {
			if v[k] != v[k+unit] {
				continue
			}
			i, j := k, k+1 // v[x] == v[x+unit] for every x in [i, j)
			for i > 0 && v[i-1] == v[i-1+unit] {
				i--
			}
			for j+unit < len(v) && v[j] == v[j+unit] {
				j++
			}
			if j-i >= unit*maxRepeat {
				return true
			}
		}
	}
	return false
}

// Junk values: at least junkMinBytes (after folding) of which at least
// half are ASCII punctuation. No API field carries a kilobyte of mostly
// punctuation (code is about a third; JSON, base64 and prose far less),
// and it is what makes signature engines slow: a few such headers cost the
// CRS tens of milliseconds each.
const junkMinBytes = 1024

// junk reports whether v is a junk value (see junkMinBytes).
func junk(v string) bool {
	if len(v) < junkMinBytes {
		return false
	}
	p := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c > ' ' && c < 0x7f && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			p++
		}
	}
	return 2*p >= len(v)
}
