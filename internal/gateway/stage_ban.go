package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage/ratelimit"
)

// banFeedBuffer is how many events the auto-ban's feed holds. The feed is
// lossy: when counting falls behind (a slow Redis under a flood) events are
// dropped and counted by the bus, never waited for, so requests are never
// blocked by the feedback loop.
const banFeedBuffer = 4096

// buildBan builds the auto-ban check (config: bans). Owned by the abuse work.
//
// Every API's chain gets its own ban stage; each counts only its own API's
// security events (the first API's also counts events refused before
// routing), so every event is counted once, in the shared store.
func buildBan(b *build) (pipeline.Stage, error) {
	bn, err := ratelimit.NewBanner(b.cfg.Bans, ratelimit.BanOptions{
		API:           b.api.Name,
		CountUnrouted: len(b.cfg.APIs) > 0 && b.api == &b.cfg.APIs[0],
		Store:         b.store,
		Events:        b.events,
		Now:           b.now,
	})
	if err != nil || bn == nil {
		return nil, err
	}
	st := &banStage{Banner: bn}
	if sub, ok := b.events.(interface {
		Subscribe(buf int) (<-chan events.Event, func())
	}); ok {
		feed, stop := sub.Subscribe(banFeedBuffer)
		st.stop = stop
		st.wg.Add(1)
		go func() {
			defer st.wg.Done()
			for e := range feed {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				if _, _, err := bn.Observe(ctx, e); err != nil {
					b.logger.Warn("auto-ban: counting an event failed", "err", err)
				}
				cancel()
			}
		}()
	} else {
		b.logger.Warn("auto-ban: the event publisher has no live feed; bans only come from the admin API")
	}
	return st, nil
}

// banStage is the ban check plus its event feed, which Close ends.
type banStage struct {
	*ratelimit.Banner
	stop func()
	wg   sync.WaitGroup
}

// Close ends the event feed and waits for the counter to finish.
func (s *banStage) Close() error {
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
	return nil
}
