package detect

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// volume is detect.volume: a principal's or API key's requests per bucket
// against its own moving baseline (an EWMA of its past buckets). A scraper
// that keeps under a flat rate limit still shows up when it multiplies
// what that principal usually does; the floor keeps quiet principals'
// small bursts out, and the warmup keeps new principals from being judged
// on no history.
type volume struct {
	r      Rule
	bucket time.Duration
	alpha  float64
	factor float64
	floor  int64
	warmup int64
}

func newVolume(c Volume) *volume {
	d := &volume{r: c.Rule.withDefaults("volume"), bucket: c.Bucket, alpha: c.Alpha, factor: c.Factor,
		floor: int64(c.Floor), warmup: int64(c.Warmup)}
	if d.bucket <= 0 {
		d.bucket = time.Minute
	}
	if d.alpha <= 0 {
		d.alpha = 0.1
	}
	if d.factor <= 0 {
		d.factor = 4
	}
	if d.floor <= 0 {
		d.floor = 100
	}
	if d.warmup <= 0 {
		d.warmup = 5
	}
	d.r.Window = d.bucket // a detection latches for one bucket
	d.r.Threshold = int(d.floor)
	return d
}

func (d *volume) name() string { return "volume" }
func (d *volume) rule() Rule   { return d.r }

// probes is unused: volume meters instead (observe).
func (d *volume) probes(*facts) []probe { return nil }

// observe counts the exchange for its key and fires when its bucket is an
// anomaly against the baseline. Once the bucket reaches half the floor it
// also keeps the bucket's newest request ids, the evidence.
func (d *volume) observe(ctx context.Context, s *Stage, f *facts) error {
	k := f.keyOf(d.r.Key)
	if k == "" || f.authFailed {
		return nil
	}
	// The baseline is forgotten after a day without requests (or 200
	// buckets, when longer): a returning principal starts a new history.
	ttl := max(24*time.Hour, 200*d.bucket)
	m, err := s.o.Store.Meter(ctx, "detect:volume:"+k, d.bucket, d.alpha, ttl)
	if err != nil {
		return fmt.Errorf("detect.volume: %w", err)
	}
	if m.Count < max(d.floor/2, 1) {
		return nil
	}
	bucket := strconv.FormatInt(m.Start.Unix(), 10)
	sg := f.sighting(d, k+":"+bucket, f.x.ID, evidenceRefs)
	sg.Ref, sg.Window = "", d.bucket
	ws, err := s.o.Store.Sight(ctx, []store.Sighting{sg})
	if err != nil {
		return fmt.Errorf("detect.volume: evidence: %w", err)
	}
	if m.Buckets < d.warmup || m.Count < d.floor || float64(m.Count) <= d.factor*m.Baseline {
		return nil
	}
	threshold := max(d.floor, int64(d.factor*m.Baseline)+1)
	return s.fire(ctx, probe{d: d, key: k}, m.Count, int(threshold), ws[0].Refs, f, map[string]any{
		"baseline": m.Baseline, "buckets": m.Buckets, "bucket_start": bucket,
		"bucket_seconds": int64(d.bucket / time.Second), "factor": d.factor, "floor": d.floor})
}
