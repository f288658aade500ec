package crowdsec

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/crowdsecurity/crowdsec/pkg/models"

	"github.com/portcullis/portcullis/internal/store"
)

func sp(s string) *string { return &s }

// TestFeedApply: the stream's new decisions are held (ip and range, types
// mapped, simulated and unparsable ones dropped), deleted ones removed, and
// the layer adds them to the store's own.
func TestFeedApply(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	f := &Feed{cfg: Config{Types: map[string]string{"captcha": "throttle"}}, log: slog.New(slog.DiscardHandler), now: clock,
		ips: map[netip.Addr]store.Decision{}, ranges: map[netip.Prefix]store.Decision{}}
	yes := true
	f.apply(&models.DecisionsStreamResponse{New: []*models.Decision{
		{ID: 1, Scope: sp("Ip"), Value: sp("198.51.100.1"), Type: sp("ban"), Duration: sp("1h"), Origin: sp("cscli"), Scenario: sp("manual")},
		{ID: 2, Scope: sp("Range"), Value: sp("192.0.2.0/24"), Type: sp("captcha"), Duration: sp("30m"), Origin: sp("CAPI"), Scenario: sp("crowdsecurity/http-probing")},
		{ID: 3, Scope: sp("Ip"), Value: sp("198.51.100.2"), Type: sp("ban"), Duration: sp("1h"), Simulated: &yes},
		{ID: 4, Scope: sp("Ip"), Value: sp("not-an-ip"), Type: sp("ban"), Duration: sp("1h")},
		{ID: 5, Scope: sp("Username"), Value: sp("bob"), Type: sp("ban"), Duration: sp("1h")},
	}})
	got := f.Lookup(netip.MustParseAddr("198.51.100.1"))
	if len(got) != 1 || got[0].Reason != "crowdsec cscli: manual" || got[0].Type != store.TypeBan || got[0].Origin != "crowdsec" || got[0].ID != "crowdsec:1" {
		t.Fatalf("ip: got %+v", got)
	}
	got = f.Lookup(netip.MustParseAddr("::ffff:192.0.2.9"))
	if len(got) != 1 || got[0].Type != store.TypeThrottle || got[0].Key() != "range:192.0.2.0/24" || !got[0].Until.Equal(now.Add(30*time.Minute)) {
		t.Fatalf("range (captcha mapped to throttle): got %+v", got)
	}
	if got := f.Lookup(netip.MustParseAddr("198.51.100.2")); len(got) != 0 {
		t.Fatalf("simulated: got %+v, want none", got)
	}
	st := store.NewMemory(clock)
	if err := st.Decide(context.Background(), store.Decision{Scope: store.ScopeIP, Value: "198.51.100.1", Type: store.TypeThrottle, Until: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	l := Layer{Store: st, Feed: f}
	ds, err := l.Lookup(context.Background(), []string{"ip:198.51.100.1"}, netip.MustParseAddr("198.51.100.1"))
	if err != nil || len(ds) != 2 {
		t.Fatalf("layer lookup: got %+v, %v, want the store's and the feed's", ds, err)
	}
	if all, _ := l.Decisions(context.Background()); len(all) != 3 {
		t.Fatalf("layer list: got %d, want 3", len(all))
	}
	f.apply(&models.DecisionsStreamResponse{Deleted: []*models.Decision{{Scope: sp("Ip"), Value: sp("198.51.100.1")}, {Scope: sp("Range"), Value: sp("192.0.2.0/24")}}})
	if st := f.Status(); st.Decisions != 0 || st.Pulls != 2 {
		t.Fatalf("after deletes: got %+v", st)
	}
	now = now.Add(2 * time.Hour)
	f.apply(&models.DecisionsStreamResponse{New: []*models.Decision{{ID: 9, Scope: sp("Ip"), Value: sp("203.0.113.1"), Type: sp("ban"), Duration: sp("1s")}}})
	now = now.Add(time.Second)
	if got := f.Lookup(netip.MustParseAddr("203.0.113.1")); len(got) != 0 {
		t.Fatalf("expired: got %+v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{URL: "ftp://x"}, `url: "ftp://x" is not an http:// or https:// URL`},
		{Config{URL: "http://127.0.0.1:8080/"}, "api_key: required (the key `cscli bouncers add portcullis` prints), or cert_file and key_file"},
		{Config{URL: "http://127.0.0.1:8080/", APIKey: "k", Scopes: []string{"country"}}, `scopes[0]: "country" is not one of ip, range`},
		{Config{URL: "http://127.0.0.1:8080/", APIKey: "k", Types: map[string]string{"captcha": "show"}}, `types.captcha: "show" is not one of ban, throttle`},
	} {
		if errs := tc.c.Validate(); len(errs) == 0 || errs[0].Error() != tc.want {
			t.Errorf("got %v, want %s", errs, tc.want)
		}
	}
	if errs := (Config{}).Validate(); len(errs) != 0 {
		t.Errorf("off: got %v", errs)
	}
}
