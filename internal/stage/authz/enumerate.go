package authz

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// enumerate counts the distinct object ids (path parameter values) the
// caller touched on op within the window, records a finding when the count
// first passes the threshold and, with Block, refuses every new id past it.
//
// A store failure is recorded as a stage failure and the request goes on:
// detection is a signal, and an unreachable store must not take the API down
// (authorization itself does not depend on the store).
func (s *Stage) enumerate(ctx context.Context, x *pipeline.Exchange, op string, params map[string]string) *pipeline.Denial {
	e := s.cfg.Enumeration
	if e == nil || op == "" || len(params) == 0 {
		return nil
	}
	if s.enumOps != nil && !s.enumOps[op] {
		return nil
	}
	who := "ip:" + x.ClientIP.String()
	if x.Principal != nil {
		who = "principal:" + x.Principal.ID
	}
	var member string
	if len(params) == 1 {
		for _, v := range params {
			member = v
		}
	} else {
		keys := make([]string, 0, len(params))
		for k := range params {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + params[k]
		}
		member = strings.Join(parts, "&")
	}
	window := e.Window
	if window <= 0 {
		window = DefaultEnumerationWindow
	}
	key := "authz:enum:" + s.opts.API + ":" + op + ":" + who
	n, err := s.store.AddDistinct(ctx, key, member, window)
	if err != nil {
		x.AddFailure(ID, fmt.Errorf("enumeration count: %w", err))
		return nil
	}
	if n <= e.Threshold {
		return nil
	}
	mode := "detect"
	if e.Block {
		mode = "block"
	}
	reason := fmt.Sprintf("%d distinct objects of %s within %s (threshold %d)", n, op, window, e.Threshold)
	if n == e.Threshold+1 {
		x.AddFinding(pipeline.Finding{
			Stage:    ID,
			Rules:    []string{RuleEnumeration},
			Location: "path",
			Mode:     mode,
			Reason:   reason,
			Severity: events.SeverityHigh,
		})
	}
	if !e.Block {
		return nil
	}
	return &pipeline.Denial{
		Status:   http.StatusForbidden,
		Reason:   "too many different objects requested",
		Rules:    []string{RuleEnumeration},
		Location: "path",
		Detail:   reason,
		Severity: events.SeverityHigh,
		// The first denial after the finding is the event that matters; the
		// rest would flood the event stream during a scripted walk.
		Quiet: n > e.Threshold+1,
	}
}
