package waf

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/store"
)

// RuleClientBudget: the client has sent more text for the CRS than its
// inspection budget (Config.ClientBudget) allows; 429 with Retry-After.
const RuleClientBudget = "waf.client-budget"

func init() { builtinRules[RuleClientBudget] = true }

// ClientBudget is how much CRS inspection one client may buy (issue 11,
// finding 5). The CRS costs about a millisecond of CPU per kilobyte of
// text it reads, so a client sending large requests of punctuation under
// every rate limit still takes a core: each request that reaches the CRS is
// charged what it gives the CRS beyond FreeBytes, in KiB, against a GCRA
// limit per client, kept in the store (shared by every node through
// Redis). Ordinary requests are free; a client past its budget gets 429
// before the CRS runs, and other clients are not affected. The client is
// the principal when the request is authenticated (callers behind one NAT
// do not share a budget), else the client address (IPv6 by /64).
type ClientBudget struct {
	// Rate is how many KiB of text to inspect a client may send per Per,
	// beyond FreeBytes per request. Default 256 (about a quarter of a core
	// at the CRS's cost); zero means 256; -1 switches the budget off.
	Rate int64 `yaml:"rate,omitempty" json:"rate,omitempty"`
	// Per is the period Rate is measured over. Default 1s; zero means 1s.
	Per time.Duration `yaml:"per,omitempty" json:"per,omitempty"`
	// Burst is how many KiB a client may spend at once. Default 4 × Rate
	// (64 requests at the 16 KiB max_inspect_bytes); zero means that.
	Burst int64 `yaml:"burst,omitempty" json:"burst,omitempty"`
	// FreeBytes is how much text of each request is not charged, in bytes.
	// Default 2048 (an ordinary request's headers and fields); zero means
	// 2048.
	FreeBytes int `yaml:"free_bytes,omitempty" json:"free_bytes,omitempty"`
}

// Defaults of ClientBudget.
const (
	DefaultBudgetRate      = 256
	DefaultBudgetFreeBytes = 2048
)

func (b ClientBudget) on() bool { return b.Rate >= 0 }

func (b ClientBudget) withDefaults() ClientBudget {
	if !b.on() {
		return b
	}
	if b.Rate == 0 {
		b.Rate = DefaultBudgetRate
	}
	if b.Per == 0 {
		b.Per = time.Second
	}
	if b.Burst == 0 {
		b.Burst = 4 * b.Rate
	}
	if b.FreeBytes == 0 {
		b.FreeBytes = DefaultBudgetFreeBytes
	}
	return b
}

func (b ClientBudget) validate() field.List {
	var errs field.List
	if b.Rate < -1 {
		errs = append(errs, field.Errorf("client_budget.rate", "%d is negative (expected KiB per period, or -1 for off)", b.Rate))
	}
	if b.Per < 0 {
		errs = append(errs, field.Errorf("client_budget.per", "%s is negative", b.Per))
	}
	if b.Burst < 0 {
		errs = append(errs, field.Errorf("client_budget.burst", "%d is negative", b.Burst))
	}
	if b.FreeBytes < 0 {
		errs = append(errs, field.Errorf("client_budget.free_bytes", "%d is negative", b.FreeBytes))
	}
	return errs
}

// cost is what a request that gives the CRS n bytes is charged, in KiB:
// nothing up to FreeBytes, then every started KiB.
func (b ClientBudget) cost(n int) int64 {
	if n <= b.FreeBytes {
		return 0
	}
	return int64(n-b.FreeBytes+1023) / 1024
}

// budgetKey is the store key of x's client: its principal, else its
// address. "" when the request has neither.
func (s *Stage) budgetKey(x *pipeline.Exchange) string {
	pre := "waf:" + s.api + ":"
	if x.Principal != nil && x.Principal.ID != "" {
		return pre + "p:" + strconv.Quote(x.Principal.ID)
	}
	if !x.ClientIP.IsValid() {
		return ""
	}
	a := x.ClientIP.Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return pre + "ip:" + p.String()
		}
	}
	return pre + "ip:" + a.String()
}

// charge spends in's CRS text against its client's budget before the CRS
// runs. It returns how long the client must wait when the budget is spent,
// and ok false then. A store that cannot answer admits the request: the
// request is still inspected, only its cost goes uncounted.
func (in *inspection) charge(ctx context.Context) (retry time.Duration, ok bool) {
	s := in.s
	if s.budget == nil {
		return 0, true
	}
	c := s.cfg.ClientBudget.cost(in.crsText())
	if c == 0 {
		return 0, true
	}
	in.charged = c
	key := s.budgetKey(in.x)
	if key == "" {
		return 0, true
	}
	b := s.cfg.ClientBudget
	if c > b.Burst {
		c = b.Burst // a request the budget could never admit costs all of it
	}
	res, err := s.budget.Allow(ctx, key, store.Limit{Rate: b.Rate, Period: b.Per, Burst: b.Burst}, c)
	if err != nil {
		// The budget fails open (the request is still inspected in full:
		// an unreachable store must not let attacks through), and says so
		// as a stage failure (event and metric) rather than silently.
		in.x.AddFailure(ID, fmt.Errorf("client budget: %w (inspecting without it)", err))
		return 0, true
	}
	if res.Allowed {
		return 0, true
	}
	return res.RetryAfter, false
}

// crsText is how many bytes the CRS reads for in: the values and their
// decodings, and the headers.
func (in *inspection) crsText() int {
	n := in.corazaBytes
	for _, h := range in.headers {
		n += len(h[0]) + len(h[1])
	}
	return n
}

// budgetDenial is the answer to a client past its inspection budget.
func (s *Stage) budgetDenial(v Verdict) *pipeline.Denial {
	secs := int64((v.retryAfter + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return &pipeline.Denial{
		Status:   http.StatusTooManyRequests,
		Reason:   "this client has sent more text for the web application firewall to inspect than its budget allows: retry later",
		Stage:    ID,
		Rules:    []string{RuleClientBudget},
		Detail:   "this request would cost " + strconv.FormatInt(v.charged, 10) + " KiB of a budget of " + strconv.FormatInt(s.cfg.ClientBudget.Rate, 10) + " KiB per " + s.cfg.ClientBudget.Per.String(),
		Headers:  http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}},
		Severity: "low",
	}
}
