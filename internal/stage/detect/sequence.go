package detect

import (
	"slices"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/store"
)

// sequence is detect.sequence: one client walking numeric ids in a path
// (/orders/1001, /orders/1002, ...). The last all-digit segment of a path
// is the id; the rest is the path's shape; per client and shape, the ids
// seen within the window are kept, and the longest run of ids no more than
// max_gap apart is what is compared with the threshold. Authorization's
// enumeration detector counts distinct objects per principal; this one
// sees the order, from any client, answered or not.
type sequence struct {
	r      Rule
	maxGap int64
}

func newSequence(c Sequence) *sequence {
	d := &sequence{r: c.Rule.withDefaults("sequence"), maxGap: int64(c.MaxGap)}
	if d.maxGap <= 0 {
		d.maxGap = 1
	}
	return d
}

func (d *sequence) name() string { return "sequence" }
func (d *sequence) rule() Rule   { return d.r }

func (d *sequence) probes(f *facts) []probe {
	shape, id, ok := numericShape(f.path)
	if !ok {
		return nil
	}
	k := f.keyOf(d.r.Key)
	if k == "" {
		return nil
	}
	s := f.sighting(d, k+":"+shape, strconv.FormatInt(id, 10), 0)
	s.Members = true
	return []probe{{d: d, key: k, s: s, judge: d.longestRun}}
}

// longestRun is the length of the longest run of the window's ids where
// each is at most maxGap above the one before.
func (d *sequence) longestRun(w store.Window) int64 {
	ids := make([]int64, 0, len(w.Members))
	for _, m := range w.Members {
		if n, err := strconv.ParseInt(m, 10, 64); err == nil {
			ids = append(ids, n)
		}
	}
	slices.Sort(ids)
	var best, run int64
	for i, n := range ids {
		if i > 0 && n-ids[i-1] <= d.maxGap {
			run++
		} else {
			run = 1
		}
		best = max(best, run)
	}
	return best
}

// numericShape splits a path into its shape (the last all-digit segment
// replaced by {n}) and that segment's value. Ids of more than 15 digits
// are not sequences anyone walks.
func numericShape(path string) (string, int64, bool) {
	end := len(path)
	for end > 0 {
		start := strings.LastIndexByte(path[:end], '/') + 1
		seg := path[start:end]
		if seg != "" && len(seg) <= 15 && strings.Trim(seg, "0123456789") == "" {
			n, err := strconv.ParseInt(seg, 10, 64)
			if err != nil {
				return "", 0, false
			}
			return path[:start] + "{n}" + path[end:], n, true
		}
		if start == 0 {
			break
		}
		end = start - 1
	}
	return "", 0, false
}
