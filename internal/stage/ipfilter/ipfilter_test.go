package ipfilter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pipeline"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		paths []string
	}{
		{"empty", Config{}, nil},
		{"good", Config{Allow: []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1", " 172.16.0.0/12 "}, Deny: []string{"::ffff:10.1.0.0/112"}}, nil},
		{"bad allow", Config{Allow: []string{"10.0.0.0/8", "10.0.0.0/33", "nope"}}, []string{"allow[1]", "allow[2]"}},
		{"bad deny", Config{Deny: []string{"", "1.2.3"}}, []string{"deny[0]", "deny[1]"}},
		{"v6 too long", Config{Deny: []string{"2001:db8::/129"}}, []string{"deny[0]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range tc.cfg.Validate() {
				got = append(got, e.Path)
				if e.Msg == "" {
					t.Errorf("empty message for %s", e.Path)
				}
			}
			if !slices.Equal(got, tc.paths) {
				t.Errorf("got %v, want %v", got, tc.paths)
			}
		})
	}
}

func TestNewError(t *testing.T) {
	_, err := New(Config{Allow: []string{"x"}}, &Config{Deny: []string{"1.2.3.4/99"}})
	if err == nil {
		t.Fatal("got nil error, want one")
	}
	for _, want := range []string{"building ipfilter", "global.allow[0]", "api.deny[0]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to contain %q", err, want)
		}
	}
}

func TestEmpty(t *testing.T) {
	tests := []struct {
		name   string
		global Config
		api    *Config
		want   bool
	}{
		{"nothing", Config{}, nil, true},
		{"empty api block", Config{}, &Config{}, true},
		{"global deny", Config{Deny: []string{"10.0.0.1"}}, nil, false},
		{"api allow", Config{}, &Config{Allow: []string{"10.0.0.1"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := New(tc.global, tc.api)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Empty(); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	tests := []struct {
		name   string
		global Config
		api    *Config
		client string // "" = unknown address
		rule   string // "" = allowed
	}{
		{"no lists", Config{}, nil, "203.0.113.9", ""},
		{"global deny hit", Config{Deny: []string{"203.0.113.0/24"}}, nil, "203.0.113.9", RuleDeny},
		{"global deny miss", Config{Deny: []string{"203.0.113.0/24"}}, nil, "203.0.114.1", ""},
		{"api deny hit", Config{}, &Config{Deny: []string{"203.0.113.9"}}, "203.0.113.9", RuleDeny},
		{"global allow hit", Config{Allow: []string{"10.0.0.0/8"}}, nil, "10.200.1.1", ""},
		{"global allow miss", Config{Allow: []string{"10.0.0.0/8"}}, nil, "11.0.0.1", RuleNotAllowed},
		{"api allow miss", Config{}, &Config{Allow: []string{"10.0.0.0/8"}}, "11.0.0.1", RuleNotAllowed},
		{"api allow narrows global", Config{Allow: []string{"10.0.0.0/8"}}, &Config{Allow: []string{"10.1.0.0/16"}}, "10.2.0.1", RuleNotAllowed},
		{"api allow cannot widen global", Config{Allow: []string{"10.0.0.0/8"}}, &Config{Allow: []string{"11.0.0.0/8"}}, "11.0.0.1", RuleNotAllowed},
		{"both allows pass", Config{Allow: []string{"10.0.0.0/8"}}, &Config{Allow: []string{"10.1.0.0/16"}}, "10.1.2.3", ""},
		{"deny wins over allow same block", Config{Allow: []string{"10.0.0.0/8"}, Deny: []string{"10.0.0.5"}}, nil, "10.0.0.5", RuleDeny},
		{"api deny wins over global allow", Config{Allow: []string{"10.0.0.0/8"}}, &Config{Deny: []string{"10.0.0.0/24"}}, "10.0.0.5", RuleDeny},
		{"global deny wins over api allow", Config{Deny: []string{"10.0.0.5"}}, &Config{Allow: []string{"10.0.0.0/8"}}, "10.0.0.5", RuleDeny},
		{"unknown client with allow list", Config{Allow: []string{"0.0.0.0/0"}}, nil, "", RuleNotAllowed},
		{"unknown client with deny list only", Config{Deny: []string{"0.0.0.0/0"}}, nil, "", ""},
		{"ipv6 deny hit", Config{Deny: []string{"2001:db8::/32"}}, nil, "2001:db8:1::7", RuleDeny},
		{"ipv6 deny miss", Config{Deny: []string{"2001:db8::/32"}}, nil, "2001:db9::1", ""},
		{"ipv6 allow host", Config{Allow: []string{"::1"}}, nil, "::1", ""},
		{"ipv6 allow miss", Config{Allow: []string{"::1"}}, nil, "::2", RuleNotAllowed},
		{"ipv6 zone ignored", Config{Deny: []string{"fe80::/10"}}, nil, "fe80::1%eth0", RuleDeny},
		{"mapped client vs v4 list", Config{Deny: []string{"192.0.2.0/24"}}, nil, "::ffff:192.0.2.1", RuleDeny},
		{"v4 client vs mapped list", Config{Deny: []string{"::ffff:192.0.2.0/120"}}, nil, "192.0.2.1", RuleDeny},
		{"mapped address entry", Config{Allow: []string{"::ffff:192.0.2.1"}}, nil, "192.0.2.1", ""},
		{"v6 all does not cover v4", Config{Deny: []string{"::/0"}}, nil, "192.0.2.1", ""},
		{"v4 all does not cover v6", Config{Deny: []string{"0.0.0.0/0"}}, nil, "2001:db8::1", ""},
		{"v4 all", Config{Deny: []string{"0.0.0.0/0"}}, nil, "255.255.255.255", RuleDeny},
		{"v6 all", Config{Deny: []string{"::/0"}}, nil, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", RuleDeny},
		{"overlap nested", Config{Deny: []string{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24"}}, nil, "10.9.9.9", RuleDeny},
		{"overlap nested reverse order", Config{Deny: []string{"10.1.2.0/24", "10.0.0.0/8"}}, nil, "10.255.255.255", RuleDeny},
		{"adjacent ranges merged", Config{Deny: []string{"10.0.0.0/25", "10.0.0.128/25"}}, nil, "10.0.0.200", RuleDeny},
		{"just past range", Config{Deny: []string{"10.0.0.0/25", "10.0.0.128/26"}}, nil, "10.0.0.192", ""},
		{"just before range", Config{Allow: []string{"10.0.0.1/32"}}, nil, "10.0.0.0", RuleNotAllowed},
		{"host bits masked", Config{Deny: []string{"10.0.0.77/24"}}, nil, "10.0.0.1", RuleDeny},
		{"v6 at /64 boundary", Config{Deny: []string{"2001:db8::/64"}}, nil, "2001:db8:0:1::", ""},
		{"v6 inside /64", Config{Deny: []string{"2001:db8::/64"}}, nil, "2001:db8::ffff:ffff:ffff:ffff", RuleDeny},
		{"v6 /72", Config{Deny: []string{"2001:db8::/72"}}, nil, "2001:db8::ff:ffff:ffff:ffff", RuleDeny},
		{"v6 /72 miss", Config{Deny: []string{"2001:db8::/72"}}, nil, "2001:db8::100:0:0:0", ""},
		{"v6 overlapping", Config{Deny: []string{"2001:db8::/48", "2001:db8:0:5::/64", "2001:db8:1::/48"}}, nil, "2001:db8:1:ffff::1", RuleDeny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := New(tc.global, tc.api)
			if err != nil {
				t.Fatal(err)
			}
			x := pipeline.NewExchange(httptest.NewRequest("GET", "/", nil), "req-1", time.Unix(0, 0))
			if tc.client != "" {
				x.ClientIP = netip.MustParseAddr(tc.client)
			}
			d, err := f.Request(context.Background(), x)
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if tc.rule == "" {
				if d != nil {
					t.Fatalf("got denial %+v, want none", d)
				}
				return
			}
			if d == nil {
				t.Fatalf("got no denial, want %s", tc.rule)
			}
			if got := d.Rules; !slices.Equal(got, []string{tc.rule}) {
				t.Errorf("got rules %v, want [%s]", got, tc.rule)
			}
			if d.Status != 403 {
				t.Errorf("got status %d, want 403", d.Status)
			}
			if d.Stage != ID {
				t.Errorf("got stage %q, want %q", d.Stage, ID)
			}
			if tc.client != "" && strings.Contains(d.Reason, tc.client) {
				t.Errorf("reason %q echoes the client address", d.Reason)
			}
			if d.Detail == "" || d.Location == "" || d.Severity == "" {
				t.Errorf("got detail %q location %q severity %q, want all set", d.Detail, d.Location, d.Severity)
			}
		})
	}
}

// recorder is a stage that records whether it ran.
type recorder struct{ ran int }

func (r *recorder) ID() string { return "recorder" }
func (r *recorder) Request(context.Context, *pipeline.Exchange) (*pipeline.Denial, error) {
	r.ran++
	return nil, nil
}

func TestChainStopsAtDenial(t *testing.T) {
	f, err := New(Config{Deny: []string{"198.51.100.0/24"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		client  string
		wantRan int
	}{
		{"denied never reaches next", "198.51.100.1", 0},
		{"allowed reaches next", "198.51.101.1", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			chain := pipeline.Chain{{Stage: f}, {Stage: rec}}
			x := pipeline.NewExchange(httptest.NewRequest("GET", "/", nil), "req-1", time.Unix(0, 0))
			x.ClientIP = netip.MustParseAddr(tc.client)
			d := chain.Run(context.Background(), x)
			if (d != nil) != (tc.wantRan == 0) {
				t.Errorf("got denial %v, want denial %v", d, tc.wantRan == 0)
			}
			if rec.ran != tc.wantRan {
				t.Errorf("got next ran %d times, want %d", rec.ran, tc.wantRan)
			}
		})
	}
}

// TestSetAgainstLinear compares the compiled set with a plain linear scan
// over netip.Prefix.Contains on random, heavily overlapping prefixes.
func TestSetAgainstLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 20; round++ {
		var prefixes []netip.Prefix
		for i := 0; i < 200; i++ {
			prefixes = append(prefixes, randPrefix(rng, rng.IntN(2) == 0, 8))
		}
		s := newSet(slices.Clone(prefixes))
		for i := 0; i < 2000; i++ {
			a := randAddr(rng, rng.IntN(2) == 0, 8)
			want := false
			for _, p := range prefixes {
				if p.Contains(a) {
					want = true
					break
				}
			}
			if got := s.contains(a); got != want {
				t.Fatalf("round %d: contains(%v) got %v, want %v", round, a, got, want)
			}
		}
	}
}

// randAddr returns an address whose first byte is below 1<<spread, so
// prefixes and addresses collide often.
func randAddr(rng *rand.Rand, v4 bool, spread uint) netip.Addr {
	if v4 {
		var b [4]byte
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		b[0] = byte(rng.IntN(1 << spread))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	b[0] = 0x20
	b[1] = byte(rng.IntN(1 << spread))
	return netip.AddrFrom16(b)
}

func randPrefix(rng *rand.Rand, v4 bool, spread uint) netip.Prefix {
	a := randAddr(rng, v4, spread)
	bits := 8 + rng.IntN(a.BitLen()-7)
	return netip.PrefixFrom(a, bits).Masked()
}

func BenchmarkFilter10kCIDRs(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	var deny, allow []string
	for i := 0; i < 10000; i++ {
		v4 := i%2 == 0
		deny = append(deny, randPrefix(rng, v4, 8).String())
		allow = append(allow, fmt.Sprintf("10.%d.%d.0/24", i/256%256, i%256))
	}
	f, err := New(Config{Deny: deny, Allow: allow}, nil)
	if err != nil {
		b.Fatal(err)
	}
	addrs := make([]netip.Addr, 1024)
	for i := range addrs {
		addrs[i] = randAddr(rng, i%2 == 0, 8)
	}
	x := pipeline.NewExchange(httptest.NewRequest("GET", "/", nil), "req-1", time.Unix(0, 0))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		x.ClientIP = addrs[i&1023]
		_, _ = f.Request(ctx, x)
	}
}

func BenchmarkFilterAllowed10kCIDRs(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	var deny []string
	for i := 0; i < 10000; i++ {
		deny = append(deny, randPrefix(rng, i%2 == 0, 8).String())
	}
	f, err := New(Config{Deny: deny}, nil)
	if err != nil {
		b.Fatal(err)
	}
	addrs := make([]netip.Addr, 1024)
	for i := range addrs {
		addrs[i] = randAddr(rng, i%2 == 0, 8)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f.Allowed(addrs[i&1023])
	}
}
