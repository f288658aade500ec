package ipfilter

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
)

// set is a compiled, read-only set of prefixes: the prefixes are turned into
// address ranges, sorted and merged so that overlapping and adjacent ranges
// become one, and a lookup is a binary search over disjoint ranges —
// O(log n) and allocation free, whatever the number or overlap of CIDRs.
//
// IPv4 and IPv6 are kept apart on purpose: an IPv6 prefix such as ::/0
// does not cover IPv4 clients, and IPv4-mapped prefixes (::ffff:a.b.c.d/n
// with n ≥ 96) are stored as the IPv4 prefix they mean.
type set struct {
	v4 []range4
	v6 []range6
}

type range4 struct{ lo, hi uint32 }

type u128 struct{ hi, lo uint64 }

type range6 struct{ lo, hi u128 }

func (a u128) cmp(b u128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

// next returns a+1 and whether it did not overflow.
func (a u128) next() (u128, bool) {
	lo := a.lo + 1
	hi := a.hi
	if lo == 0 {
		hi++
		if hi == 0 {
			return u128{}, false
		}
	}
	return u128{hi, lo}, true
}

func addrU128(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func addrU32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// canonical turns an IPv4-mapped IPv6 prefix into its IPv4 prefix and drops
// zones; every other prefix is returned masked.
func canonical(p netip.Prefix) netip.Prefix {
	a := p.Addr().WithZone("")
	bits := p.Bits()
	if a.Is4In6() && bits >= 96 {
		a = a.Unmap()
		bits -= 96
	}
	return netip.PrefixFrom(a, bits).Masked()
}

// newSet compiles prefixes into a set. Invalid prefixes are ignored (the
// caller validates first).
func newSet(prefixes []netip.Prefix) set {
	var s set
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		p = canonical(p)
		if p.Addr().Is4() {
			lo := addrU32(p.Addr())
			var hostMask uint32
			if p.Bits() < 32 {
				hostMask = ^uint32(0) >> p.Bits()
			}
			s.v4 = append(s.v4, range4{lo, lo | hostMask})
			continue
		}
		lo := addrU128(p.Addr())
		var hm u128
		switch b := p.Bits(); {
		case b == 0:
			hm = u128{^uint64(0), ^uint64(0)}
		case b < 64:
			hm = u128{^uint64(0) >> b, ^uint64(0)}
		case b < 128:
			hm = u128{0, ^uint64(0) >> (b - 64)}
		}
		s.v6 = append(s.v6, range6{lo, u128{lo.hi | hm.hi, lo.lo | hm.lo}})
	}
	s.v4 = merge4(s.v4)
	s.v6 = merge6(s.v6)
	return s
}

func merge4(rs []range4) []range4 {
	if len(rs) == 0 {
		return nil
	}
	slices.SortFunc(rs, func(a, b range4) int { return cmp.Compare(a.lo, b.lo) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		// Merge when r overlaps last or starts right after it.
		if last.hi == ^uint32(0) || r.lo <= last.hi+1 {
			last.hi = max(last.hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

func merge6(rs []range6) []range6 {
	if len(rs) == 0 {
		return nil
	}
	slices.SortFunc(rs, func(a, b range6) int { return a.lo.cmp(b.lo) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		after, ok := last.hi.next()
		if !ok || r.lo.cmp(after) <= 0 {
			if r.hi.cmp(last.hi) > 0 {
				last.hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

// empty reports whether the set holds no range.
func (s *set) empty() bool { return len(s.v4) == 0 && len(s.v6) == 0 }

// len returns the number of disjoint ranges (for tests).
func (s *set) len() int { return len(s.v4) + len(s.v6) }

// contains reports whether a (already unmapped, without zone) is in the set.
func (s *set) contains(a netip.Addr) bool {
	if a.Is4() {
		x := addrU32(a)
		rs := s.v4
		// Find the first range whose lo > x; the candidate is the one before.
		i, j := 0, len(rs)
		for i < j {
			h := int(uint(i+j) >> 1)
			if rs[h].lo <= x {
				i = h + 1
			} else {
				j = h
			}
		}
		return i > 0 && x <= rs[i-1].hi
	}
	if !a.Is6() {
		return false
	}
	x := addrU128(a)
	rs := s.v6
	i, j := 0, len(rs)
	for i < j {
		h := int(uint(i+j) >> 1)
		if rs[h].lo.cmp(x) <= 0 {
			i = h + 1
		} else {
			j = h
		}
	}
	return i > 0 && x.cmp(rs[i-1].hi) <= 0
}
