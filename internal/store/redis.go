package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store shared by every node through one Redis server. Every
// operation is a single command or a Lua script, so it is atomic: two nodes
// can never both take the last unit of a limit.
//
// Time comes from the caller's clock (the now given to NewRedis), passed to
// every script, never from the Redis server: limits, quotas, expiries and
// bans then follow one clock that tests can inject, and Memory and Redis
// agree to the microsecond. Nodes of a fleet must keep their clocks in
// sync (NTP); a skew of s lets a node admit about s×rate extra events.
// Keys also get a Redis expiry, so Redis forgets what no node needs any
// more.
//
// The scripts touch the keys they are given plus, for Decisions, the
// decision records named in the decision index: fine on a single Redis or a replicated one, not on
// Redis Cluster.
type Redis struct {
	c      redis.UniversalClient
	prefix string
	now    func() time.Time

	// AllowAll, the per-request call, goes through a batching loop:
	// calls that arrive while one is in flight are sent together as ONE
	// script call (one command, one Lua run, one reply for the lot) that
	// decides them one after the other, exactly as separate calls in that
	// order would. Under load this is what keeps Redis-backed limits
	// cheap; idle, a call goes out alone at once, with no added delay.
	batch     chan *pipeReq
	closed    chan struct{}
	closeOnce sync.Once
	loops     sync.WaitGroup
}

// pipeReq is one AllowAll call waiting for a batching loop. Requests are
// pooled; one whose caller gave up (context done) is left to the GC, as
// its loop may still be using it.
type pipeReq struct {
	keys []string // the checks' Redis keys
	spec []byte   // the call's part of the batch spec (see scriptAllowAll)
	kbuf []byte   // backing bytes of keys
	ends []int    // where each key ends in kbuf
	done chan pipeRes
}

type pipeRes struct {
	v   []any
	err error
}

var pipeReqs = sync.Pool{New: func() any { return &pipeReq{done: make(chan pipeRes, 1)} }}

// maxBatch caps how many calls one batch carries, and maxBatchKeys how
// many keys (a batch may exceed it by one call's keys).
const (
	maxBatch     = 128
	maxBatchKeys = 1024
)

var _ Store = (*Redis)(nil)

// NewRedis returns a Store on client c, prefixing every key with prefix.
// A nil now uses time.Now. Close closes c.
func NewRedis(c redis.UniversalClient, prefix string, now func() time.Time) *Redis {
	if now == nil {
		now = time.Now
	}
	r := &Redis{c: c, prefix: prefix, now: now, batch: make(chan *pipeReq, 1024), closed: make(chan struct{})}
	// One loop: calls that arrive while a batch is in flight wait for it
	// and go out together in the next, so the number of Redis calls (and
	// the CPU they cost on both sides) falls as load rises. Measured on
	// bench/run.sh, several loops sent smaller batches and served fewer
	// requests per second.
	r.loops.Add(1)
	go r.batcher()
	return r
}

// batcher sends queued AllowAll calls, as many at once as are waiting, in
// one script call.
func (r *Redis) batcher() {
	defer r.loops.Done()
	ctx := context.Background() // each call's own context is honoured by its waiter
	reqs := make([]*pipeReq, 0, maxBatch)
	var buf batchBuf
	for {
		var first *pipeReq
		select {
		case first = <-r.batch:
		case <-r.closed:
			return
		}
		reqs = append(reqs[:0], first)
		nkeys := len(first.keys)
	drain:
		for len(reqs) < maxBatch && nkeys < maxBatchKeys {
			select {
			case q := <-r.batch:
				reqs = append(reqs, q)
				nkeys += len(q.keys)
			default:
				break drain
			}
		}
		r.sendBatch(ctx, reqs, &buf)
	}
}

// batchBuf holds a batching loop's scratch buffers, reused batch after
// batch.
type batchBuf struct {
	keys []string       // the batch's distinct keys (KEYS)
	spec []byte         // the calls' specs (ARGV[1])
	idx  []byte         // per check, its key's index in keys (ARGV[2])
	uniq map[string]int // key → index in keys (1-based)
}

// sendBatch runs reqs as one script call and answers each on its done
// channel. Each distinct key goes to Redis once, however many calls of the
// batch check it (under load most calls share keys: a route, a busy
// client), which keeps the MGET, the Lua strings and the request small.
func (r *Redis) sendBatch(ctx context.Context, reqs []*pipeReq, b *batchBuf) {
	if b.uniq == nil {
		b.uniq = make(map[string]int)
	}
	b.keys, b.spec, b.idx = b.keys[:0], b.spec[:0], b.idx[:0]
	for _, q := range reqs {
		for _, k := range q.keys {
			i, ok := b.uniq[k]
			if !ok {
				b.keys = append(b.keys, k)
				i = len(b.keys)
				b.uniq[k] = i
			}
			b.idx = strconv.AppendInt(b.idx, int64(i), 10)
			b.idx = append(b.idx, ' ')
		}
		b.spec = append(b.spec, q.spec...)
	}
	// Run sends EVALSHA, and the script itself only when Redis lost it
	// (restart).
	v, err := scriptAllowAll.Run(ctx, r.c, b.keys, string(b.spec), string(b.idx)).Slice()
	if err == nil {
		want := len(reqs)
		for _, q := range reqs {
			want += 4 * len(q.keys)
		}
		if len(v) != want {
			err = fmt.Errorf("script replied %d values, want %d", len(v), want)
		}
	}
	off := 0
	for _, q := range reqs {
		if err != nil {
			q.done <- pipeRes{nil, err}
			continue
		}
		m := 1 + 4*len(q.keys)
		q.done <- pipeRes{v[off : off+m : off+m], nil}
		off += m
	}
	clear(b.keys)
	clear(b.uniq)
}

// allowAllScript runs q through the batching loop.
func (r *Redis) allowAllScript(ctx context.Context, q *pipeReq) ([]any, error) {
	select {
	case r.batch <- q:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-r.closed:
		return nil, redis.ErrClosed
	}
	select {
	case res := <-q.done:
		return res.v, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Name returns "redis".
func (r *Redis) Name() string { return "redis" }

// Close stops the batching loop and closes the Redis client.
func (r *Redis) Close() error {
	r.closeOnce.Do(func() { close(r.closed) })
	r.loops.Wait()
	return r.c.Close()
}

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return r.fail(ctx, "ping", err)
	}
	return nil
}

// fail wraps a Redis error. Everything but the caller's own cancellation
// means Redis cannot serve us right now (down, timeout, loading, read-only
// replica, out of memory), so it wraps ErrUnavailable.
func (r *Redis) fail(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("redis %s: %w", op, ctx.Err())
	}
	return fmt.Errorf("redis %s: %w: %w", op, ErrUnavailable, err)
}

// micros formats a microsecond time exactly (Lua's tostring would round
// 16-digit numbers to 14 significant digits).
func micros(t int64) string { return strconv.FormatInt(t, 10) }

// luaFmt is a Lua helper the scripts share: integers as exact decimal
// strings.
const luaFmt = `local function fmt(n) return string.format('%.0f', n) end
`

var scriptAllow = redis.NewScript(luaFmt + `
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval * n
local diff = now - (new_tat - interval * burst)
if diff < 0 then
  return {0, 0, fmt(-diff), fmt(tat - now)}
end
local reset = new_tat - now
redis.call('SET', KEYS[1], fmt(new_tat), 'PX', math.ceil(reset / 1000))
return {1, fmt(math.floor(diff / interval)), '0', fmt(reset)}
`)

// Allow checks a GCRA limit; the script is the same arithmetic as gcra.
func (r *Redis) Allow(ctx context.Context, key string, l Limit, n int64) (Result, error) {
	if err := l.check(n); err != nil {
		return Result{}, err
	}
	now := r.now().UnixMicro()
	v, err := scriptAllow.Run(ctx, r.c, []string{r.prefix + "gcra:" + key},
		micros(now), l.intervalMicros(), l.burst(), n).Slice()
	if err != nil {
		return Result{}, r.fail(ctx, "allow", err)
	}
	ints, err := replyInts(v, 4)
	if err != nil {
		return Result{}, fmt.Errorf("redis allow: %w", err)
	}
	return Result{
		Allowed:    ints[0] == 1,
		Remaining:  ints[1],
		RetryAfter: time.Duration(ints[2]) * time.Microsecond,
		ResetAfter: time.Duration(ints[3]) * time.Microsecond,
	}, nil
}

// scriptAllowAll decides a batch of AllowAll calls, one after the other,
// in one atomic run. ARGV[1] is the batch spec, space-separated tokens; per
// call: its number of checks k, its now (µs), its cost n, then per check
// "q MAX TTL_MS" (quota) or "g INTERVAL_µs BURST" (GCRA). KEYS holds the
// batch's distinct keys; ARGV[2] gives, per check in order, its key's index
// in KEYS. The reply is, per call, 1 (all admitted) or 0,
// then per check: allowed (1/0), used (quota, after the call if admitted)
// or remaining (GCRA), retry after (µs) and reset after (µs).
//
// Every key is read once (MGET) and written once at the end, with the
// value and expiry the last admitting call left it: what running the calls
// as separate scripts would leave, since nobody can look in between.
// Replies are plain integers (Redis turns a Lua number into an exact
// integer reply below 2^53; ours are microseconds and counts, far below),
// stored values exact decimal strings (fmt).
var scriptAllowAll = redis.NewScript(luaFmt + `
local spec = {}
for w in string.gmatch(ARGV[1], '%S+') do spec[#spec + 1] = w end
local kidx = {}
for w in string.gmatch(ARGV[2], '%d+') do kidx[#kidx + 1] = tonumber(w) end
local cur, dirty = {}, {}
for i = 1, #KEYS, 1000 do
  local j = math.min(i + 999, #KEYS)
  local vals = redis.call('MGET', unpack(KEYS, i, j))
  for m = i, j do
    local key = KEYS[m]
    if cur[key] == nil then cur[key] = tonumber(vals[m - i + 1] or '0') end
  end
end
local out = {}
local p, ki = 1, 0
-- Per-call scratch, indexed 1..k and fully rewritten by every call that
-- reads it back (a call's entries are read only when all its checks passed).
local kinds, news, ttls = {}, {}, {}
while p <= #spec do
  local k, now, n = tonumber(spec[p]), tonumber(spec[p + 1]), tonumber(spec[p + 2])
  p = p + 3
  local base = #out + 1
  out[base] = 1
  for j = 1, k do
    local key = KEYS[kidx[ki + j]]
    local kind, x, y = spec[p], tonumber(spec[p + 1]), tonumber(spec[p + 2])
    p = p + 3
    kinds[j] = kind
    local o = base + 4 * j - 3
    local c = cur[key]
    if kind == 'q' then
      if c + n <= x then
        out[o] = 1; out[o + 1] = c + n
        ttls[j] = y
      else
        out[base] = 0
        out[o] = 0; out[o + 1] = c
      end
      out[o + 2] = 0; out[o + 3] = 0
    else
      local tat = c
      if tat < now then tat = now end
      local new_tat = tat + x * n
      local diff = now - (new_tat - x * y)
      if diff < 0 then
        out[base] = 0
        out[o] = 0; out[o + 1] = 0; out[o + 2] = -diff; out[o + 3] = tat - now
      else
        out[o] = 1; out[o + 1] = math.floor(diff / x); out[o + 2] = 0; out[o + 3] = new_tat - now
        news[j] = new_tat
        ttls[j] = math.ceil((new_tat - now) / 1000)
      end
    end
  end
  if out[base] == 1 then
    for j = 1, k do
      local key = KEYS[kidx[ki + j]]
      if kinds[j] == 'q' then
        cur[key] = cur[key] + n
      else
        cur[key] = news[j]
      end
      dirty[key] = ttls[j]
    end
  end
  ki = ki + k
end
for key, ttl in pairs(dirty) do
  redis.call('SET', key, fmt(cur[key]), 'PX', fmt(ttl))
end
return out
`)

// AllowAll checks limits and quotas together in one script; see
// Store.AllowAll.
func (r *Redis) AllowAll(ctx context.Context, checks []Check, n int64) (bool, []Outcome, error) {
	if err := checkAll(checks, n); err != nil {
		return false, nil, err
	}
	t := r.now()
	q := r.prepare(checks, n, t)
	v, err := r.allowAllScript(ctx, q)
	if ctx.Err() == nil || err == nil {
		// The loop is done with q (it answered, or never took it).
		clear(q.keys)
		pipeReqs.Put(q)
	}
	if err != nil {
		return false, nil, r.fail(ctx, "allow all", err)
	}
	return parseAllowAll(v, checks, n, t)
}

// prepare builds the batch request of an AllowAll call made at t.
func (r *Redis) prepare(checks []Check, n int64, t time.Time) *pipeReq {
	q := pipeReqs.Get().(*pipeReq)
	kb := q.kbuf[:0]
	q.ends = q.ends[:0]
	spec := strconv.AppendInt(q.spec[:0], int64(len(checks)), 10)
	spec = append(spec, ' ')
	spec = strconv.AppendInt(spec, t.UnixMicro(), 10)
	spec = append(spec, ' ')
	spec = strconv.AppendInt(spec, n, 10)
	for _, c := range checks {
		kb = append(kb, r.prefix...)
		if c.Max > 0 {
			start, end := c.Period.Bounds(t)
			kb = append(kb, "quota:"...)
			kb = append(kb, c.Key...)
			kb = append(kb, ':')
			kb = strconv.AppendInt(kb, start.Unix(), 10)
			spec = append(spec, " q "...)
			spec = strconv.AppendInt(spec, c.Max, 10)
			spec = append(spec, ' ')
			spec = strconv.AppendInt(spec, (end.Sub(t) + 24*time.Hour).Milliseconds(), 10)
		} else {
			kb = append(kb, "gcra:"...)
			kb = append(kb, c.Key...)
			spec = append(spec, " g "...)
			spec = strconv.AppendInt(spec, c.Limit.intervalMicros(), 10)
			spec = append(spec, ' ')
			spec = strconv.AppendInt(spec, c.Limit.burst(), 10)
		}
		q.ends = append(q.ends, len(kb))
	}
	q.spec = append(spec, ' ')
	q.kbuf = kb
	// One string for every key of the call, sliced.
	all := string(kb)
	q.keys = q.keys[:0]
	from := 0
	for _, e := range q.ends {
		q.keys = append(q.keys, all[from:e])
		from = e
	}
	return q
}

// parseAllowAll reads one call's part of the script's reply.
func parseAllowAll(v []any, checks []Check, n int64, t time.Time) (bool, []Outcome, error) {
	var err error
	if len(v) != 1+4*len(checks) {
		return false, nil, fmt.Errorf("redis allow all: script replied %d values, want %d", len(v), 1+4*len(checks))
	}
	var ints [1 + 4*8]int64
	var buf []int64
	if len(v) <= len(ints) {
		buf = ints[:len(v)]
	} else {
		buf = make([]int64, len(v))
	}
	for i, e := range v {
		if buf[i], err = replyInt(i, e); err != nil {
			return false, nil, fmt.Errorf("redis allow all: %w", err)
		}
	}
	all0 := buf[0] == 1
	out := make([]Outcome, len(checks))
	for i, c := range checks {
		p := buf[1+4*i:]
		o := Outcome{Allowed: p[0] == 1}
		if c.Max > 0 {
			o.Used = p[1]
			if o.Allowed && !all0 {
				o.Used -= n
			}
			o.Remaining = max(c.Max-o.Used, 0)
			_, end := c.Period.Bounds(t)
			o.ResetAfter = end.Sub(t)
			if !o.Allowed {
				o.RetryAfter = o.ResetAfter
			}
		} else {
			o.Remaining = p[1]
			if o.Allowed && !all0 {
				o.Remaining = min(o.Remaining+n, c.Limit.burst())
			}
			o.RetryAfter = time.Duration(p[2]) * time.Microsecond
			o.ResetAfter = time.Duration(p[3]) * time.Microsecond
		}
		out[i] = o
	}
	return all0, out, nil
}

var scriptQuota = redis.NewScript(`
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local max = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
if used + n > max then return {0, used} end
used = redis.call('INCRBY', KEYS[1], n)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, used}
`)

// Quota counts units against max for the aligned period containing now.
// Each period has its own key (suffixed with the period's start), so a
// new period starts from zero without anyone resetting anything.
func (r *Redis) Quota(ctx context.Context, key string, max int64, p Period, n int64) (QuotaResult, error) {
	if err := checkQuota(max, p, n); err != nil {
		return QuotaResult{}, err
	}
	t := r.now()
	start, end := p.Bounds(t)
	// Keep the counter a day past the period's end so a skewed node still
	// finds it; a longer life costs one small key per principal.
	ttl := end.Sub(t) + 24*time.Hour
	k := r.prefix + "quota:" + key + ":" + strconv.FormatInt(start.Unix(), 10)
	v, err := scriptQuota.Run(ctx, r.c, []string{k}, max, n, ttl.Milliseconds()).Slice()
	if err != nil {
		return QuotaResult{}, r.fail(ctx, "quota", err)
	}
	ints, err := replyInts(v, 2)
	if err != nil {
		return QuotaResult{}, fmt.Errorf("redis quota: %w", err)
	}
	res := QuotaResult{Allowed: ints[0] == 1, Used: ints[1], Reset: end}
	res.Remaining = max - res.Used
	if res.Remaining < 0 {
		res.Remaining = 0
	}
	return res, nil
}

var scriptIncr = redis.NewScript(luaFmt + `
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local exp = redis.call('HGET', KEYS[1], 'e')
if exp and exp ~= '0' and tonumber(exp) <= now then
  redis.call('DEL', KEYS[1])
  exp = false
end
if not exp then
  if ttl > 0 then
    redis.call('HSET', KEYS[1], 'e', fmt(now + ttl))
    redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000))
  else
    redis.call('HSET', KEYS[1], 'e', '0')
  end
end
return redis.call('HINCRBY', KEYS[1], 'n', 1)
`)

// Incr increments a counter that expires ttl after its first increment.
func (r *Redis) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	n, err := scriptIncr.Run(ctx, r.c, []string{r.prefix + "count:" + key},
		micros(r.now().UnixMicro()), ttl.Microseconds()).Int64()
	if err != nil {
		return 0, r.fail(ctx, "incr", err)
	}
	return n, nil
}

var scriptAddDistinct = redis.NewScript(luaFmt + `
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local exp = redis.call('GET', KEYS[2])
if exp and exp ~= '0' and tonumber(exp) <= now then exp = false end
if not exp then
  redis.call('DEL', KEYS[1])
  if ttl > 0 then
    redis.call('SET', KEYS[2], fmt(now + ttl), 'PX', math.ceil(ttl / 1000))
  else
    redis.call('SET', KEYS[2], '0')
  end
end
redis.call('SADD', KEYS[1], ARGV[3])
local pttl = redis.call('PTTL', KEYS[2])
if pttl > 0 then redis.call('PEXPIRE', KEYS[1], pttl) end
return redis.call('SCARD', KEYS[1])
`)

// AddDistinct adds member to a set that expires ttl after its creation and
// returns the set's size. The set's expiry (on the caller's clock) lives in
// a companion key.
func (r *Redis) AddDistinct(ctx context.Context, key, member string, ttl time.Duration) (int64, error) {
	n, err := scriptAddDistinct.Run(ctx, r.c,
		[]string{r.prefix + "set:" + key, r.prefix + "setexp:" + key},
		micros(r.now().UnixMicro()), ttl.Microseconds(), member).Int64()
	if err != nil {
		return 0, r.fail(ctx, "add distinct", err)
	}
	return n, nil
}

var scriptSetNX = redis.NewScript(luaFmt + `
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local v = redis.call('GET', KEYS[1])
if v and (v == '0' or tonumber(v) > now) then return 0 end
if ttl > 0 then
  redis.call('SET', KEYS[1], fmt(now + ttl), 'PX', math.ceil(ttl / 1000))
else
  redis.call('SET', KEYS[1], '0')
end
return 1
`)

// SetNX stores key for ttl when it is absent and reports whether it did.
func (r *Redis) SetNX(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	n, err := scriptSetNX.Run(ctx, r.c, []string{r.prefix + "nonce:" + key},
		micros(r.now().UnixMicro()), ttl.Microseconds()).Int64()
	if err != nil {
		return false, r.fail(ctx, "setnx", err)
	}
	return n == 1, nil
}

var scriptGet = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'v', 'e')
if not h[1] then return false end
if h[2] and h[2] ~= '0' and tonumber(h[2]) <= tonumber(ARGV[1]) then return false end
return h[1]
`)

// Get returns the value stored at key.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := scriptGet.Run(ctx, r.c, []string{r.prefix + "kv:" + key}, micros(r.now().UnixMicro())).Text()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, r.fail(ctx, "get", err)
	}
	return []byte(v), true, nil
}

var scriptPut = redis.NewScript(luaFmt + `
local now = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
redis.call('DEL', KEYS[1])
if ttl > 0 then
  redis.call('HSET', KEYS[1], 'v', ARGV[1], 'e', fmt(now + ttl))
  redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000))
else
  redis.call('HSET', KEYS[1], 'v', ARGV[1], 'e', '0')
end
return 1
`)

// Put stores value at key for ttl (0 keeps it forever).
func (r *Redis) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		ttl = 0
	}
	err := scriptPut.Run(ctx, r.c, []string{r.prefix + "kv:" + key},
		value, micros(r.now().UnixMicro()), ttl.Microseconds()).Err()
	if err != nil {
		return r.fail(ctx, "put", err)
	}
	return nil
}

// Delete removes key from the key/value store.
func (r *Redis) Delete(ctx context.Context, key string) error {
	if err := r.c.Del(ctx, r.prefix+"kv:"+key).Err(); err != nil {
		return r.fail(ctx, "delete", err)
	}
	return nil
}

// replyInts converts a script's array reply of integers or decimal strings.
func replyInts(v []any, n int) ([]int64, error) {
	if len(v) != n {
		return nil, fmt.Errorf("script replied %d values, want %d", len(v), n)
	}
	out := make([]int64, n)
	for i, e := range v {
		var err error
		if out[i], err = replyInt(i, e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// replyInt converts value i of a script's reply, an integer or a decimal
// string.
func replyInt(i int, e any) (int64, error) {
	switch x := e.(type) {
	case int64:
		return x, nil
	case string:
		p, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("script value %d: %w", i, err)
		}
		return p, nil
	default:
		return 0, fmt.Errorf("script value %d has type %T", i, e)
	}
}
