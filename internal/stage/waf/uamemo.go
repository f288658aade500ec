package waf

import "sync"

// uaMemo remembers what the built-in detectors and libinjection found in
// a User-Agent value. Clients send one User-Agent on every request (an
// app's build, an SDK's version, a browser's release), so an API sees a
// few hundred distinct values a day among millions of requests, and each
// costs as much to read as a short sentence. The findings are a function
// of the value alone (Variants, the gates, the detectors), so a repeated
// value gets the same hits, exactly; Coraza still reads every User-Agent
// that is not an ordinary product list (collectHeaders). Bounded: values
// longer than uaMemoMaxLen are never kept, and a full memo is emptied.
type uaMemo struct {
	mu sync.RWMutex
	m  map[string][]hit // value → hits without location
}

const (
	uaMemoSize   = 1024
	uaMemoMaxLen = 512
)

func (u *uaMemo) get(v string) ([]hit, bool) {
	u.mu.RLock()
	h, ok := u.m[v]
	u.mu.RUnlock()
	return h, ok
}

func (u *uaMemo) put(v string, h []hit) {
	u.mu.Lock()
	if u.m == nil || len(u.m) >= uaMemoSize {
		u.m = make(map[string][]hit, 64)
	}
	u.m[v] = h
	u.mu.Unlock()
}

// userAgent inspects a User-Agent value at loc as a header value (see
// value), through the stage's memo.
func (in *inspection) userAgent(loc, v string) {
	memo := in.s.ua
	if memo == nil || len(v) > uaMemoMaxLen || v == "" {
		in.value(collGet, "", loc, v, true)
		return
	}
	if hs, ok := memo.get(v); ok {
		if len(hs) > 0 {
			in.keepRaw(loc, v)
		}
		for _, h := range hs {
			h.loc = loc
			in.hits = append(in.hits, h)
		}
		return
	}
	if in.budgetExceeded {
		return
	}
	n := len(in.hits)
	in.value(collGet, "", loc, v, true)
	var hs []hit
	for _, h := range in.hits[n:] {
		h.loc = ""
		hs = append(hs, h)
	}
	memo.put(v, hs)
}
