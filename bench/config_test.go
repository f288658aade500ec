// Package bench holds the benchmark tools (see README.md); this file only
// checks that the gateway config run.sh uses is valid.
package bench

import (
	"net/netip"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/stage/ipfilter"
)

// TestPortcullisConfig loads bench/portcullis.yaml the way `portcullis
// serve` does, with the variables run.sh sets.
func TestPortcullisConfig(t *testing.T) {
	t.Setenv("PORTCULLIS_ADDR", "127.0.0.1:18080")
	t.Setenv("PORTCULLIS_UPSTREAM", "http://127.0.0.1:18081")
	cfg, err := config.Load("portcullis.yaml")
	if err != nil {
		t.Fatalf("loading bench/portcullis.yaml: %v", err)
	}
	if got := len(cfg.Listeners); got != 1 || cfg.Listeners[0].Addr != "127.0.0.1:18080" {
		t.Errorf("listeners: got %+v, want one on 127.0.0.1:18080", cfg.Listeners)
	}
	if got := len(cfg.APIs); got != 1 || cfg.APIs[0].Name != "bench" || len(cfg.APIs[0].Upstream.Targets) != 1 ||
		cfg.APIs[0].Upstream.Targets[0] != "http://127.0.0.1:18081" {
		t.Errorf("apis: got %+v, want one named bench with target http://127.0.0.1:18081", cfg.APIs)
	}
	if cfg.Log.Access != "off" {
		t.Errorf("log.access: got %q, want off", cfg.Log.Access)
	}
	if !cfg.Admin.Disabled {
		t.Errorf("admin.disabled: got false, want true")
	}
	// The deny list must not cover the benchmark's own traffic.
	loopback := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}
	for _, s := range config.BlockOf[ipfilter.Config](cfg.Stages).Deny {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			t.Fatalf("deny %q: %v", s, err)
		}
		for _, a := range loopback {
			if p.Contains(a) {
				t.Errorf("deny %s covers %s, which the benchmark uses", p, a)
			}
		}
	}
	if len(config.BlockOf[ipfilter.Config](cfg.Stages).Deny) == 0 {
		t.Errorf("ipfilter.deny: got none, want a few CIDRs so the filter does work")
	}
}

// TestTracingConfig: the tracing row's config is the plain one with
// tracing on at 1%, exported to the upstream's receiver.
func TestTracingConfig(t *testing.T) {
	t.Setenv("PORTCULLIS_ADDR", "127.0.0.1:18080")
	t.Setenv("PORTCULLIS_UPSTREAM", "http://127.0.0.1:18081")
	cfg, err := config.Load("portcullis-tracing.yaml")
	if err != nil {
		t.Fatalf("loading bench/portcullis-tracing.yaml: %v", err)
	}
	if tr := cfg.Tracing; tr.Exporter != "otlp-http" || tr.SampleRatio != 0.01 || tr.Endpoint != "http://127.0.0.1:18081/v1/traces" {
		t.Errorf("tracing: got %+v, want otlp-http at 1%% to the upstream's /v1/traces", tr)
	}
}
