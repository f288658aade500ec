package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// hook is one webhook: a bounded queue and the goroutine that delivers it.
type hook struct {
	name       string
	url        string
	format     string
	secret     []byte
	timeout    time.Duration
	maxRetries int
	backoff    time.Duration
	maxBackoff time.Duration
	client     *http.Client
	now        func() time.Time
	after      func(time.Duration) <-chan time.Time
	opts       Options

	queue     chan *Alert
	closeOnce sync.Once

	sent, failures, retries, dropped atomic.Uint64
}

func newHook(w Webhook, opts Options) (*hook, error) {
	secret := w.Secret
	if opts.ResolveSecret != nil && secret != "" {
		s, err := opts.ResolveSecret(secret)
		if err != nil {
			return nil, fmt.Errorf("alerts: webhook %s: secret: %w", w.Name, err)
		}
		secret = s
	}
	h := &hook{
		name:       w.Name,
		url:        w.URL,
		format:     or(w.Format, FormatJSON),
		secret:     []byte(secret),
		timeout:    or(w.Timeout, DefaultTimeout),
		maxRetries: or(w.MaxRetries, DefaultMaxRetries),
		backoff:    or(w.Backoff, DefaultBackoff),
		maxBackoff: or(w.MaxBackoff, DefaultMaxBackoff),
		client:     opts.Client,
		now:        opts.Now,
		after:      opts.After,
		opts:       opts,
		queue:      make(chan *Alert, or(w.QueueSize, DefaultQueueSize)),
	}
	if h.maxRetries < 0 {
		h.maxRetries = 0
	}
	if h.client == nil {
		// Proxy is nil on purpose: alerts go where the config says, not
		// through an HTTP_PROXY in the gateway's environment.
		h.client = &http.Client{
			Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: h.timeout}).DialContext, MaxIdleConnsPerHost: 2},
			// A webhook that redirects is misconfigured; following it would
			// send signed alerts somewhere nobody configured.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return h, nil
}

// enqueue queues a without blocking; a full queue drops and counts it.
func (h *hook) enqueue(a *Alert) {
	defer func() {
		if recover() != nil { // queue closed: shutting down
			h.dropped.Add(1)
		}
	}()
	select {
	case h.queue <- a:
	default:
		h.dropped.Add(1)
		h.opts.Logger.Warn("alert dropped: webhook queue full", "webhook", h.name, "rule", a.Rule, "alert_id", a.ID)
	}
}

func (h *hook) close() { h.closeOnce.Do(func() { close(h.queue) }) }

func (h *hook) run(ctx context.Context) {
	for a := range h.queue {
		if ctx.Err() != nil {
			h.dropped.Add(1)
			continue
		}
		h.deliver(ctx, a)
	}
}

// deliver sends a, retrying with exponential backoff.
func (h *hook) deliver(ctx context.Context, a *Alert) {
	body, err := h.body(a)
	if err != nil {
		h.dropped.Add(1)
		h.opts.Logger.Error("alert could not be encoded", "webhook", h.name, "err", err)
		return
	}
	wait := h.backoff
	for attempt := 0; ; attempt++ {
		err := h.post(ctx, a.ID, body)
		if err == nil {
			h.sent.Add(1)
			return
		}
		h.failures.Add(1)
		if attempt >= h.maxRetries || ctx.Err() != nil {
			h.dropped.Add(1)
			h.opts.Logger.Error("alert delivery failed for good", "webhook", h.name, "rule", a.Rule,
				"alert_id", a.ID, "attempts", attempt+1, "err", err)
			return
		}
		select {
		case <-h.after(wait):
		case <-ctx.Done():
			h.dropped.Add(1)
			return
		}
		h.retries.Add(1)
		wait = min(2*wait, h.maxBackoff)
	}
}

func (h *hook) body(a *Alert) ([]byte, error) {
	if h.format == FormatSlack {
		text := fmt.Sprintf("*[%s] %s*\n%s", a.Severity, a.Rule, a.Summary)
		if a.Node != "" {
			text += "\nnode: " + a.Node
		}
		return json.Marshal(map[string]string{"text": text})
	}
	return json.Marshal(a)
}

// Sign returns the SignatureHeader value for body at time t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

func (h *hook) post(ctx context.Context, id string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "portcullis-alerts")
	req.Header.Set(IDHeader, id)
	if len(h.secret) > 0 {
		// Signed at each attempt, so that the timestamp is fresh.
		req.Header.Set(SignatureHeader, Sign(h.secret, h.now(), body))
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
