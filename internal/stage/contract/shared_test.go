package contract_test

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/dlp"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/stage/contract"
	"github.com/portcullis/portcullis/internal/stage/mask"
	"github.com/portcullis/portcullis/internal/stage/stagetest"
)

// withMask is a gateway with contract and mask on one API: the two share
// one walk of each answer (pipeline.JSONPass), contract's visitor first.
func withMask(t *testing.T, c contract.Config, m mask.Config, body string) *stagetest.Env {
	t.Helper()
	api := config.API{OpenAPI: filepath.Join("testdata", "users.yaml")}
	api.Stages.Set(&c)
	api.Stages.Set(&m)
	return stagetest.New(t, api, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
}

// The user answers a card in a declared member and an SSN and a password
// in undeclared ones.
const sharedBody = `{"id":"u1","name":"pays with 4111111111111111","ssn":"078-05-1120","internal":{"password":"hunter2"}}`

func byStage(e *stagetest.Env, stage string) []events.Event {
	var out []events.Event
	for _, ev := range e.Events() {
		if ev.Stage == stage {
			out = append(out, ev)
		}
	}
	return out
}

// TestSharedWalkWithMask: one walk makes both edits; mask never sees (nor
// reports) what contract removed; each stage's refusal stays its own.
func TestSharedWalkWithMask(t *testing.T) {
	e := withMask(t, contract.Config{}, mask.Config{}, sharedBody)
	resp, body := e.Do(t, "GET", "/users/u1", nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if want := `{"id":"u1","name":"pays with ************1111"}`; string(body) != want {
		t.Errorf("answer %s, want %s", body, want)
	}
	if ms := dlp.Find(body, dlp.All, nil); len(ms) != 0 {
		t.Errorf("a %s survived", ms[0].Kind)
	}
	c := byStage(e, contract.ID)
	if len(c) != 1 || !strings.Contains(c[0].Reason, "2 undeclared properties removed: /ssn, /internal") {
		t.Errorf("contract events: %+v", c)
	}
	m := byStage(e, mask.ID)
	if len(m) != 1 || m[0].Rules[0] != mask.RuleOf(dlp.Card) {
		t.Errorf("mask events: %+v, want one card masking (the SSN and password were removed before mask saw them)", m)
	}

	// contract block: its 502, not mask's, and nothing leaks.
	e = withMask(t, contract.Config{Mode: contract.ModeBlock}, mask.Config{}, sharedBody)
	resp, body = e.Do(t, "GET", "/users/u1", nil, "")
	if resp.StatusCode != 502 || strings.Contains(string(body), "4111") || strings.Contains(string(body), "078-05") {
		t.Errorf("contract block: %d %s", resp.StatusCode, body)
	}
	if d := byStage(e, contract.ID); len(d) != 1 || d[0].Type != events.TypeDenial || d[0].Rules[0] != contract.RuleUndeclaredProperty {
		t.Errorf("contract block events: %+v", e.Events())
	}

	// mask block: its 502, though contract alone would have let it through.
	e = withMask(t, contract.Config{}, mask.Config{Action: "block"}, sharedBody)
	resp, body = e.Do(t, "GET", "/users/u1", nil, "")
	if resp.StatusCode != 502 || strings.Contains(string(body), "4111") {
		t.Errorf("mask block: %d %s", resp.StatusCode, body)
	}
	if d := byStage(e, mask.ID); len(d) != 1 || d[0].Type != events.TypeDenial {
		t.Errorf("mask block events: %+v", e.Events())
	}

	// Not JSON after all: contract counts it malformed, mask still reads
	// it as text.
	e = withMask(t, contract.Config{}, mask.Config{}, `{"id":"u1","name":"card 4111111111111111"`)
	resp, body = e.Do(t, "GET", "/users/u1", nil, "")
	if resp.StatusCode != 200 || strings.Contains(string(body), "4111111111111111") {
		t.Errorf("malformed: %d %s", resp.StatusCode, body)
	}
	if c := byStage(e, contract.ID); len(c) != 1 || c[0].Rules[0] != contract.RuleMalformed {
		t.Errorf("malformed: contract events %+v", c)
	}
}
