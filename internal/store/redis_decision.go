package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// A decision is a hash (u: until in µs, j: the decision as JSON) that Redis
// expires when the decision ends, plus a member of the decision index (a
// sorted set scored by until, which Decisions reads) and, for a range, of
// the range index (which Lookup reads, so that an address is checked
// against every banned network in the same call).
var scriptDecide = redis.NewScript(luaFmt + `
local now, untl = tonumber(ARGV[1]), tonumber(ARGV[2])
if untl <= now then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'u', ARGV[2], 'j', ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil((untl - now) / 1000))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[5])
end
return 1
`)

func (r *Redis) decisionKey(key string) string { return r.prefix + "decision:" + key }

// Decide stores d until d.Until.
func (r *Redis) Decide(ctx context.Context, d Decision) error {
	d.Until = d.Until.Truncate(0)
	j, err := json.Marshal(d)
	if err != nil {
		return err
	}
	rng := ""
	if d.Scope == ScopeRange {
		rng = d.Value
	}
	err = scriptDecide.Run(ctx, r.c, []string{r.decisionKey(d.Key()), r.prefix + "decisions", r.prefix + "decisions:ranges"},
		micros(r.now().UnixMicro()), micros(d.Until.UnixMicro()), j, d.Key(), rng).Err()
	if err != nil {
		return r.fail(ctx, "decide", err)
	}
	return nil
}

// maxRanges bounds how many range decisions one lookup checks. Ranges are
// few in practice (CrowdSec's, which can be many, are held by each node,
// not here); past the bound the soonest-ending are checked.
const maxRanges = 1024

var scriptLookup = redis.NewScript(`
local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS - 1 do
  local h = redis.call('HMGET', KEYS[i], 'u', 'j')
  if h[1] and tonumber(h[1]) > now and h[2] then out[#out + 1] = h[2] end
end
if ARGV[2] == '1' then
  local rs = redis.call('ZRANGEBYSCORE', KEYS[#KEYS], '(' .. ARGV[1], '+inf', 'LIMIT', 0, tonumber(ARGV[3]))
  for _, v in ipairs(rs) do out[#out + 1] = '=' .. v end
end
return out
`)

// prefixes caches parsed range values (there are few, and every lookup
// with an address sees them all).
var prefixes sync.Map // string → netip.Prefix (invalid when unparsable)

func cachedPrefix(v string) netip.Prefix {
	if p, ok := prefixes.Load(v); ok {
		return p.(netip.Prefix)
	}
	p, err := netip.ParsePrefix(v)
	if err != nil {
		p = netip.Prefix{}
	}
	prefixes.Store(v, p)
	return p
}

// Lookup returns the active decisions among keys and on ranges holding
// ip, in one call (plus one per matching range, which is rare).
func (r *Redis) Lookup(ctx context.Context, keys []string, ip netip.Addr) ([]Decision, error) {
	ks := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		ks = append(ks, r.decisionKey(k))
	}
	ks = append(ks, r.prefix+"decisions:ranges")
	want := "0"
	if ip.IsValid() {
		want = "1"
	}
	v, err := scriptLookup.Run(ctx, r.c, ks, micros(r.now().UnixMicro()), want, maxRanges).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.fail(ctx, "lookup", err)
	}
	var out []Decision
	for _, s := range v {
		if rng, ok := strings.CutPrefix(s, "="); ok {
			p := cachedPrefix(rng)
			if !p.IsValid() || !p.Contains(ip.Unmap()) {
				continue
			}
			ds, err := r.Lookup(ctx, []string{DecisionKey(ScopeRange, rng)}, netip.Addr{})
			if err != nil {
				return nil, err
			}
			out = append(out, ds...)
			continue
		}
		var d Decision
		if err := json.Unmarshal([]byte(s), &d); err != nil {
			return nil, fmt.Errorf("redis lookup: decision record: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}

var scriptRevoke = redis.NewScript(`
local u = redis.call('HGET', KEYS[1], 'u')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
if ARGV[3] ~= '' then redis.call('ZREM', KEYS[3], ARGV[3]) end
if u and tonumber(u) > tonumber(ARGV[1]) then return 1 end
return 0
`)

// Revoke ends the decision on key.
func (r *Redis) Revoke(ctx context.Context, key string) (bool, error) {
	rng := ""
	if scope, value, ok := ParseDecisionKey(key); ok && scope == ScopeRange {
		rng = value
	}
	n, err := scriptRevoke.Run(ctx, r.c, []string{r.decisionKey(key), r.prefix + "decisions", r.prefix + "decisions:ranges"},
		micros(r.now().UnixMicro()), key, rng).Int64()
	if err != nil {
		return false, r.fail(ctx, "revoke", err)
	}
	return n == 1, nil
}

var scriptDecisions = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')
local out = {}
for _, m in ipairs(members) do
  local h = redis.call('HMGET', ARGV[2] .. m, 'u', 'j')
  if h[1] and tonumber(h[1]) > tonumber(ARGV[1]) and h[2] then out[#out + 1] = h[2] end
end
return out
`)

// Decisions lists the active decisions, soonest to end first.
func (r *Redis) Decisions(ctx context.Context) ([]Decision, error) {
	v, err := scriptDecisions.Run(ctx, r.c, []string{r.prefix + "decisions"},
		micros(r.now().UnixMicro()), r.prefix+"decision:").StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.fail(ctx, "decisions", err)
	}
	out := make([]Decision, 0, len(v))
	for _, s := range v {
		var d Decision
		if err := json.Unmarshal([]byte(s), &d); err != nil {
			return nil, fmt.Errorf("redis decisions: decision record: %w", err)
		}
		out = append(out, d)
	}
	sortDecisions(out)
	return out, nil
}

var scriptSight = redis.NewScript(`
local now = tonumber(ARGV[1])
local out = {}
local a = 2
for i = 1, #KEYS, 2 do
  local win, keep, nrefs = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local wantm, member, ref = ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  a = a + 6
  local mk, rk = KEYS[i], KEYS[i + 1]
  local from = now - win
  local ttl = math.ceil(win / 1000)
  redis.call('ZADD', mk, now, member)
  redis.call('ZREMRANGEBYSCORE', mk, '-inf', from)
  local c = redis.call('ZCARD', mk)
  if c > keep then
    redis.call('ZREMRANGEBYRANK', mk, 0, c - keep - 1)
    c = keep
  end
  redis.call('PEXPIRE', mk, ttl)
  local own = (ref == '' or ref == member)
  if not own then
    redis.call('ZADD', rk, now, ref)
    redis.call('ZREMRANGEBYSCORE', rk, '-inf', from)
    local rc = redis.call('ZCARD', rk)
    if rc > keep then redis.call('ZREMRANGEBYRANK', rk, 0, rc - keep - 1) end
    redis.call('PEXPIRE', rk, ttl)
  end
  local refs = {}
  if nrefs > 0 then
    local src = rk
    if own then src = mk end
    refs = redis.call('ZREVRANGE', src, 0, nrefs - 1)
  end
  local members = {}
  if wantm == '1' then members = redis.call('ZRANGE', mk, 0, -1) end
  out[#out + 1] = {c, refs, members}
end
return out
`)

// Sight adds each sighting to its window in one script call.
func (r *Redis) Sight(ctx context.Context, ss []Sighting) ([]Window, error) {
	if err := checkSightings(ss); err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, 2*len(ss))
	args := make([]any, 0, 1+6*len(ss))
	args = append(args, micros(r.now().UnixMicro()))
	for _, s := range ss {
		keys = append(keys, r.prefix+"sight:"+s.Key, r.prefix+"sightref:"+s.Key)
		m := "0"
		if s.Members {
			m = "1"
		}
		args = append(args, s.Window.Microseconds(), s.Keep, s.Refs, m, s.Member, s.Ref)
	}
	v, err := scriptSight.Run(ctx, r.c, keys, args...).Slice()
	if err != nil {
		return nil, r.fail(ctx, "sight", err)
	}
	if len(v) != len(ss) {
		return nil, fmt.Errorf("redis sight: script replied %d windows, want %d", len(v), len(ss))
	}
	out := make([]Window, len(ss))
	for i, e := range v {
		w, ok := e.([]any)
		if !ok || len(w) != 3 {
			return nil, fmt.Errorf("redis sight: window %d has type %T", i, e)
		}
		c, err := replyInt(0, w[0])
		if err != nil {
			return nil, fmt.Errorf("redis sight: %w", err)
		}
		out[i] = Window{Count: c, Refs: replyStrings(w[1]), Members: replyStrings(w[2])}
	}
	return out, nil
}

func replyStrings(v any) []string {
	l, _ := v.([]any)
	if len(l) == 0 {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

var scriptMeter = redis.NewScript(luaFmt + `
local now, b, alpha = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local start = now - (now % b)
local h = redis.call('HMGET', KEYS[1], 's', 'c', 'b', 'n', 'e')
local s = tonumber(h[1])
if h[5] and h[5] ~= '0' and tonumber(h[5]) <= now then s = nil end
local c, base, n = tonumber(h[2] or '0'), tonumber(h[3] or '0'), tonumber(h[4] or '0')
if not s then s = start; c = 0; base = 0; n = 0 end
if s < start then
  local k = math.floor((start - s) / b)
  if n == 0 then base = c else base = alpha * c + (1 - alpha) * base end
  n = n + 1
  for i = 1, math.min(k - 1, 64) do base = base * (1 - alpha) end
  n = n + k - 1
  s = start
  c = 0
end
c = c + 1
local bs = string.format('%.17g', base)
local ttl = tonumber(ARGV[4])
local e = '0'
if ttl > 0 then e = fmt(now + ttl * 1000) end
redis.call('HSET', KEYS[1], 's', fmt(s), 'c', fmt(c), 'b', bs, 'n', fmt(n), 'e', e)
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) else redis.call('PERSIST', KEYS[1]) end
return {c, bs, n, fmt(s)}
`)

// Meter counts one event for key against its baseline, in one script.
// The baseline is kept and returned as a 17-digit decimal, so that Redis
// and Memory agree to the last bit.
func (r *Redis) Meter(ctx context.Context, key string, bucket time.Duration, alpha float64, ttl time.Duration) (Meter, error) {
	if err := checkMeter(bucket, alpha); err != nil {
		return Meter{}, err
	}
	v, err := scriptMeter.Run(ctx, r.c, []string{r.prefix + "meter:" + key},
		micros(r.now().UnixMicro()), bucket.Microseconds(), strconv.FormatFloat(alpha, 'g', 17, 64), max(ttl.Milliseconds(), 0)).Slice()
	if err != nil {
		return Meter{}, r.fail(ctx, "meter", err)
	}
	if len(v) != 4 {
		return Meter{}, fmt.Errorf("redis meter: script replied %d values, want 4", len(v))
	}
	c, err1 := replyInt(0, v[0])
	n, err2 := replyInt(2, v[2])
	s, err3 := replyInt(3, v[3])
	bs, _ := v[1].(string)
	base, err4 := strconv.ParseFloat(bs, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return Meter{}, fmt.Errorf("redis meter: %w", err)
	}
	return Meter{Count: c, Baseline: base, Buckets: n, Start: time.UnixMicro(s).UTC()}, nil
}
