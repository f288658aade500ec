package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
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
// The scripts touch the keys they are given plus, for Bans, the ban records
// named in the ban index: fine on a single Redis or a replicated one, not on
// Redis Cluster.
type Redis struct {
	c      redis.UniversalClient
	prefix string
	now    func() time.Time

	// AllowAll, the per-request call, goes through a few pipelining
	// loops: calls that arrive while one is in flight are sent together
	// in one pipeline (one write and one read for the lot) instead of one
	// round trip each. Under load this is what keeps Redis-backed limits
	// cheap; idle, a call goes out alone at once, with no added delay.
	batch     chan *pipeReq
	closed    chan struct{}
	closeOnce sync.Once
	loops     sync.WaitGroup
}

// pipeReq is one AllowAll call waiting for a pipelining loop.
type pipeReq struct {
	keys []string
	args []any
	done chan pipeRes
}

type pipeRes struct {
	v   []any
	err error
}

// maxPipeline caps how many calls one pipeline carries.
const maxPipeline = 128

var _ Store = (*Redis)(nil)

// NewRedis returns a Store on client c, prefixing every key with prefix.
// A nil now uses time.Now. Close closes c.
func NewRedis(c redis.UniversalClient, prefix string, now func() time.Time) *Redis {
	if now == nil {
		now = time.Now
	}
	r := &Redis{c: c, prefix: prefix, now: now, batch: make(chan *pipeReq, 1024), closed: make(chan struct{})}
	n := 2 * runtime.GOMAXPROCS(0)
	r.loops.Add(n)
	for i := 0; i < n; i++ {
		go r.pipeline()
	}
	return r
}

// pipeline sends queued AllowAll calls, as many at once as are waiting.
func (r *Redis) pipeline() {
	defer r.loops.Done()
	ctx := context.Background() // each call's own context is honoured by its waiter
	reqs := make([]*pipeReq, 0, maxPipeline)
	for {
		var first *pipeReq
		select {
		case first = <-r.batch:
		case <-r.closed:
			return
		}
		reqs = append(reqs[:0], first)
	drain:
		for len(reqs) < maxPipeline {
			select {
			case q := <-r.batch:
				reqs = append(reqs, q)
			default:
				break drain
			}
		}
		if len(reqs) == 1 {
			v, err := scriptAllowAll.Run(ctx, r.c, first.keys, first.args...).Slice()
			first.done <- pipeRes{v, err}
			continue
		}
		pipe := r.c.Pipeline()
		cmds := make([]*redis.Cmd, len(reqs))
		for i, q := range reqs {
			cmds[i] = scriptAllowAll.EvalSha(ctx, pipe, q.keys, q.args...)
		}
		_, _ = pipe.Exec(ctx)
		for i, q := range reqs {
			v, err := cmds[i].Slice()
			if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
				// Redis restarted and lost its scripts: Run loads it again.
				v, err = scriptAllowAll.Run(ctx, r.c, q.keys, q.args...).Slice()
			}
			q.done <- pipeRes{v, err}
		}
	}
}

// allowAllScript runs the AllowAll script through the pipelining loops.
func (r *Redis) allowAllScript(ctx context.Context, keys []string, args []any) ([]any, error) {
	q := &pipeReq{keys: keys, args: args, done: make(chan pipeRes, 1)}
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

// Close stops the pipelining loops and closes the Redis client.
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

// scriptAllowAll reads every key with one MGET, decides, and writes only
// when every check admits the events. Replies are plain integers (Redis
// turns a Lua number into an exact integer reply below 2^53; our values
// are microseconds and counts, far below), so the caller parses no
// strings; stored values are still exact decimal strings (fmt).
var scriptAllowAll = redis.NewScript(luaFmt + `
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local nk = #KEYS
local vals = redis.call('MGET', unpack(KEYS))
local out = {1}
local writes = {}
for i = 1, nk do
  local a = 3 * i
  local x, y = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local o = 4 * i - 2
  local cur = tonumber(vals[i] or '0')
  if ARGV[a] == 'q' then
    if cur + n <= x then
      out[o] = 1; out[o + 1] = cur + n
      writes[i] = y
    else
      out[1] = 0
      out[o] = 0; out[o + 1] = cur
    end
    out[o + 2] = 0; out[o + 3] = 0
  else
    local tat = cur
    if tat < now then tat = now end
    local new_tat = tat + x * n
    local diff = now - (new_tat - x * y)
    if diff < 0 then
      out[1] = 0
      out[o] = 0; out[o + 1] = 0; out[o + 2] = -diff; out[o + 3] = tat - now
    else
      out[o] = 1; out[o + 1] = math.floor(diff / x); out[o + 2] = 0; out[o + 3] = new_tat - now
      writes[i] = new_tat
    end
  end
end
if out[1] == 1 then
  for i = 1, nk do
    local w = writes[i]
    if ARGV[3 * i] == 'q' then
      redis.call('INCRBY', KEYS[i], n)
      redis.call('PEXPIRE', KEYS[i], fmt(w))
    else
      redis.call('SET', KEYS[i], fmt(w), 'PX', math.ceil((w - now) / 1000))
    end
  end
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
	keys := make([]string, len(checks))
	args := make([]any, 0, 2+3*len(checks))
	args = append(args, micros(t.UnixMicro()), n)
	ends := make([]time.Time, len(checks))
	for i, c := range checks {
		if c.Max > 0 {
			start, end := c.Period.Bounds(t)
			ends[i] = end
			keys[i] = r.prefix + "quota:" + c.Key + ":" + strconv.FormatInt(start.Unix(), 10)
			args = append(args, "q", c.Max, (end.Sub(t) + 24*time.Hour).Milliseconds())
		} else {
			keys[i] = r.prefix + "gcra:" + c.Key
			args = append(args, "g", c.Limit.intervalMicros(), c.Limit.burst())
		}
	}
	v, err := r.allowAllScript(ctx, keys, args)
	if err != nil {
		return false, nil, r.fail(ctx, "allow all", err)
	}
	ints, err := replyInts(v, 1+4*len(checks))
	if err != nil {
		return false, nil, fmt.Errorf("redis allow all: %w", err)
	}
	all := ints[0] == 1
	out := make([]Outcome, len(checks))
	for i, c := range checks {
		p := ints[1+4*i:]
		o := Outcome{Allowed: p[0] == 1}
		if c.Max > 0 {
			o.Used = p[1]
			if o.Allowed && !all {
				o.Used -= n
			}
			o.Remaining = max(c.Max-o.Used, 0)
			o.ResetAfter = ends[i].Sub(t)
			if !o.Allowed {
				o.RetryAfter = o.ResetAfter
			}
		} else {
			o.Remaining = p[1]
			if o.Allowed && !all {
				o.Remaining = min(o.Remaining+n, c.Limit.burst())
			}
			o.RetryAfter = time.Duration(p[2]) * time.Microsecond
			o.ResetAfter = time.Duration(p[3]) * time.Microsecond
		}
		out[i] = o
	}
	return all, out, nil
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

// A ban is a hash (u: until, r: reason, s: strikes, f: when the strikes are
// forgotten; times in µs) plus a member of the ban index, a sorted set
// scored by until, which Bans reads.
var scriptBan = redis.NewScript(luaFmt + `
local now = tonumber(ARGV[1])
local untl = tonumber(ARGV[2])
local forget = untl + tonumber(ARGV[4])
local f = redis.call('HGET', KEYS[1], 'f')
if f and tonumber(f) <= now then redis.call('DEL', KEYS[1]) end
local s = redis.call('HINCRBY', KEYS[1], 's', 1)
redis.call('HSET', KEYS[1], 'u', fmt(untl), 'r', ARGV[3], 'f', fmt(forget))
local ttl = math.ceil((forget - now) / 1000)
if ttl < 1 then ttl = 1 end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if untl > now then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])
else
  redis.call('ZREM', KEYS[2], ARGV[5])
end
return s
`)

// Ban bans key until the given time and counts a strike. Strikes are kept
// for StrikeMemory after the ban ends.
func (r *Redis) Ban(ctx context.Context, key string, until time.Time, reason string) (Ban, error) {
	u := until.UnixMicro()
	s, err := scriptBan.Run(ctx, r.c, []string{r.banKey(key), r.prefix + "bans"},
		micros(r.now().UnixMicro()), micros(u), reason, StrikeMemory.Microseconds(), key).Int64()
	if err != nil {
		return Ban{}, r.fail(ctx, "ban", err)
	}
	return Ban{Key: key, Until: time.UnixMicro(u).UTC(), Reason: reason, Strikes: int(s)}, nil
}

func (r *Redis) banKey(key string) string { return r.prefix + "ban:" + key }

// Banned returns the active ban for key, if any.
func (r *Redis) Banned(ctx context.Context, key string) (Ban, bool, error) {
	v, err := r.c.HMGet(ctx, r.banKey(key), "u", "r", "s").Result()
	if err != nil {
		return Ban{}, false, r.fail(ctx, "banned", err)
	}
	b, ok := parseBan(key, v[0], v[1], v[2])
	if !ok || !r.now().Before(b.Until) {
		return Ban{}, false, nil
	}
	return b, true, nil
}

func parseBan(key string, u, reason, strikes any) (Ban, bool) {
	us, ok := u.(string)
	if !ok {
		return Ban{}, false
	}
	until, err := strconv.ParseInt(us, 10, 64)
	if err != nil {
		return Ban{}, false
	}
	b := Ban{Key: key, Until: time.UnixMicro(until).UTC()}
	b.Reason, _ = reason.(string)
	if s, ok := strikes.(string); ok {
		b.Strikes, _ = strconv.Atoi(s)
	}
	return b, true
}

var scriptUnban = redis.NewScript(luaFmt + `
local now = tonumber(ARGV[1])
local u = redis.call('HGET', KEYS[1], 'u')
if u and tonumber(u) > now then
  local forget = now + tonumber(ARGV[2])
  redis.call('HSET', KEYS[1], 'u', ARGV[1], 'f', fmt(forget))
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) / 1000))
end
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
`)

// Unban lifts the ban on key and keeps its strike count.
func (r *Redis) Unban(ctx context.Context, key string) error {
	err := scriptUnban.Run(ctx, r.c, []string{r.banKey(key), r.prefix + "bans"},
		micros(r.now().UnixMicro()), StrikeMemory.Microseconds(), key).Err()
	if err != nil {
		return r.fail(ctx, "unban", err)
	}
	return nil
}

var scriptBans = redis.NewScript(`
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for _, m in ipairs(members) do
  local h = redis.call('HMGET', ARGV[2] .. m, 'u', 'r', 's')
  if h[1] and tonumber(h[1]) > now then
    table.insert(out, m)
    table.insert(out, h[1])
    table.insert(out, h[2] or '')
    table.insert(out, h[3] or '0')
  end
end
return out
`)

// Bans lists active bans, soonest to end first.
func (r *Redis) Bans(ctx context.Context) ([]Ban, error) {
	v, err := scriptBans.Run(ctx, r.c, []string{r.prefix + "bans"},
		micros(r.now().UnixMicro()), r.prefix+"ban:").StringSlice()
	if err != nil {
		return nil, r.fail(ctx, "bans", err)
	}
	out := make([]Ban, 0, len(v)/4)
	for i := 0; i+3 < len(v); i += 4 {
		if b, ok := parseBan(v[i], v[i+1], v[i+2], v[i+3]); ok {
			out = append(out, b)
		}
	}
	sortBans(out)
	return out, nil
}

// replyInts converts a script's array reply of integers or decimal strings.
func replyInts(v []any, n int) ([]int64, error) {
	if len(v) != n {
		return nil, fmt.Errorf("script replied %d values, want %d", len(v), n)
	}
	out := make([]int64, n)
	for i, e := range v {
		switch x := e.(type) {
		case int64:
			out[i] = x
		case string:
			p, err := strconv.ParseInt(x, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("script value %d: %w", i, err)
			}
			out[i] = p
		default:
			return nil, fmt.Errorf("script value %d has type %T", i, e)
		}
	}
	return out, nil
}
