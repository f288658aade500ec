package mask_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/events"
	"github.com/portcullis/portcullis/internal/stage/mask"
	"github.com/portcullis/portcullis/internal/stage/stagetest"
)

// Values that must never leave the gateway, in the answer (masked) or in
// an event or a log.
const (
	card     = "4111111111111111"
	cardSp   = "5555 5555 5555 4444"
	iban     = "DE89370400440532013000"
	ssn      = "078-05-1120"
	awsID    = "AKIAIOSFODNN7EXAMPLE"
	ghToken  = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
	jwt      = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.dGhpcy1pcy10aGUtc2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
	bcrypt   = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
	password = "hunter2-correct-horse"
	pemKey   = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oDr5KWuL8Gg7oAoGCCqGSM49\n-----END EC PRIVATE KEY-----"
)

func leaky() string {
	b, _ := json.Marshal(map[string]any{
		"id":       "u1",
		"name":     "Alice",
		"password": password,
		"profile": map[string]any{
			"card":      card,
			"note":      "pay with " + cardSp + " before Friday",
			"iban":      iban,
			"ssn":       ssn,
			"hash":      bcrypt,
			"cardAsNum": json.Number(card),
		},
		"keys":    []any{awsID, ghToken, map[string]any{"pem": pemKey}},
		"session": jwt,
		"count":   3,
	})
	return string(b)
}

var secrets = []string{card, "5555 5555 5555", iban, ssn, awsID, ghToken, "MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oDr5KWuL8Gg7", "dGhpcy1pcy10aGUtc2lnbmF0dXJl", "R9h/cIPz0gi", password}

func env(t *testing.T, c mask.Config, ct, body string) *stagetest.Env {
	t.Helper()
	api := config.API{}
	api.Stages.Set(&c)
	return stagetest.New(t, api, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ct)
		_, _ = io.WriteString(w, body)
	}))
}

func TestMaskEveryKind(t *testing.T) {
	e := env(t, mask.Config{}, "application/json", leaky())
	resp, body := e.Do(t, "GET", "/users/u1", nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("the masked answer is not JSON: %v\n%s", err, body)
	}
	for _, s := range secrets {
		if strings.Contains(string(body), s) {
			t.Errorf("the answer still holds %q:\n%s", s, body)
		}
	}
	if _, ok := got["password"]; ok {
		t.Error("password (a default field) was not removed")
	}
	p := got["profile"].(map[string]any)
	want := map[string]any{"card": "************1111", "note": "pay with **** **** **** 4444 before Friday", "iban": "****",
		"ssn": "****", "hash": "****", "cardAsNum": "************1111"}
	for k, w := range want {
		if p[k] != w {
			t.Errorf("profile.%s: got %v, want %v", k, p[k], w)
		}
	}
	if got["name"] != "Alice" || got["count"] != float64(3) || got["session"] != "****" {
		t.Errorf("got %v", got)
	}
	all := e.Everything(t)
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("an event or log holds %q", s)
		}
	}
	rules := map[string]events.Event{}
	for _, ev := range e.Events() {
		rules[ev.Rules[0]] = ev
	}
	for _, r := range []string{"mask.card", "mask.iban", "mask.ssn", "mask.aws", "mask.github", "mask.private-key", "mask.jwt", "mask.password-hash", "mask.field"} {
		ev, ok := rules[r]
		if !ok {
			t.Errorf("no %s event (events: %v)", r, e.Events())
			continue
		}
		if ev.Stage != "mask" || ev.Type != events.TypeDetection || ev.Mode == "" || !strings.Contains(ev.Reason, " at /") {
			t.Errorf("%s event: %+v", r, ev)
		}
	}
	if ev := rules["mask.card"]; !strings.HasPrefix(ev.Reason, "3 card values masked") {
		t.Errorf("card event: %q", ev.Reason)
	}
	if ev := rules["mask.field"]; ev.Mode != "drop" || !strings.Contains(ev.Reason, "/password") {
		t.Errorf("field event: %+v", ev)
	}
}

func TestActionsPerKindFieldAndOperation(t *testing.T) {
	body := `{"token":"` + jwt + `","card":"` + card + `","email":"alice@example.com","internal_score":7,"Api-Key":"k-123"}`
	cases := []struct {
		name   string
		cfg    mask.Config
		status int
		check  func(t *testing.T, got map[string]any)
	}{
		{name: "drop", cfg: mask.Config{Action: mask.ActionDrop}, status: 200, check: func(t *testing.T, got map[string]any) {
			if _, ok := got["card"]; ok {
				t.Error("card kept")
			}
			if _, ok := got["token"]; ok {
				t.Error("token kept")
			}
		}},
		{name: "block", cfg: mask.Config{Action: mask.ActionBlock}, status: 502},
		{name: "per kind", cfg: mask.Config{Kinds: map[string]string{"jwt": "off", "card": "log"}}, status: 200, check: func(t *testing.T, got map[string]any) {
			if got["token"] != jwt || got["card"] != card {
				t.Errorf("got %v", got)
			}
		}},
		{name: "fields", cfg: mask.Config{Fields: []mask.Field{{Name: "email"}, {Name: "internal*", Action: "drop"}, {Name: "apikey", Action: "mask"}}}, status: 200,
			check: func(t *testing.T, got map[string]any) {
				if got["email"] != "****" || got["Api-Key"] != "****" {
					t.Errorf("got %v", got)
				}
				if _, ok := got["internal_score"]; ok {
					t.Error("internal_score kept")
				}
			}},
		{name: "operation", cfg: mask.Config{Operations: map[string]mask.Operation{"POST /login": {Kinds: map[string]string{"jwt": "off"}}}}, status: 200,
			check: func(t *testing.T, got map[string]any) {
				if got["token"] != jwt || got["card"] != "************1111" {
					t.Errorf("got %v", got)
				}
			}},
		{name: "field limited to an operation", cfg: mask.Config{Fields: []mask.Field{{Name: "email", Operations: []string{"GET /me"}}}}, status: 200,
			check: func(t *testing.T, got map[string]any) {
				if got["email"] != "alice@example.com" {
					t.Errorf("got %v", got)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			api := config.API{Operations: []string{"POST /login", "GET /me"}}
			cfg := c.cfg
			api.Stages.Set(&cfg)
			e := stagetest.New(t, api, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, body)
			}))
			resp, b := e.Do(t, "POST", "/login", nil, "{}")
			if resp.StatusCode != c.status {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, b, c.status)
			}
			if c.status == 502 {
				if strings.Contains(string(b), card) || resp.Header.Get("Content-Type") != "application/problem+json" {
					t.Fatalf("block: %s", b)
				}
				if strings.Contains(e.Everything(t), card) {
					t.Fatal("the card number reached an event or a log")
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%v: %s", err, b)
			}
			c.check(t, got)
		})
	}
}

func TestTextAndUninspectedAnswers(t *testing.T) {
	log := "2024-01-02 payment by " + card + " failed; key " + awsID + "\n"
	e := env(t, mask.Config{}, "text/plain; charset=utf-8", log)
	_, body := e.Do(t, "GET", "/log", nil, "")
	if want := "2024-01-02 payment by ************1111 failed; key ****\n"; string(body) != want {
		t.Fatalf("got %q, want %q", body, want)
	}
	img := env(t, mask.Config{}, "image/png", "\x89PNG "+card)
	if _, body := img.Do(t, "GET", "/img", nil, ""); string(body) != "\x89PNG "+card {
		t.Fatalf("a binary answer was changed: %q", body)
	}
	big := env(t, mask.Config{MaxBodyBytes: 64}, "application/json", `{"card":"`+card+`","pad":"`+strings.Repeat("x", 100)+`"}`)
	if _, body := big.Do(t, "GET", "/big", nil, ""); !strings.Contains(string(body), card) {
		t.Fatal("an answer over the cap was buffered and changed")
	}
	if evs := big.Events(); len(evs) != 1 || evs[0].Rules[0] != mask.RuleUnchecked {
		t.Fatalf("events: %+v", evs)
	}
	blk := env(t, mask.Config{MaxBodyBytes: 64, Unchecked: "block"}, "application/json", `{"pad":"`+strings.Repeat("x", 100)+`"}`)
	if resp, _ := blk.Do(t, "GET", "/big", nil, ""); resp.StatusCode != 502 {
		t.Fatalf("unchecked: block: got %d", resp.StatusCode)
	}
	notJSON := env(t, mask.Config{}, "application/json", `{"broken": `+card)
	if _, body := notJSON.Do(t, "GET", "/x", nil, ""); strings.Contains(string(body), card) {
		t.Fatalf("broken JSON was not masked as text: %s", body)
	}
}

func TestConfigErrors(t *testing.T) {
	yaml := "apis:\n  - name: a\n    upstream: {targets: [\"http://127.0.0.1:1\"]}\n    mask:\n      action: hide\n      kinds: {cards: mask, jwt: nope}\n      fields: [{name: \"\"}]\n"
	_, err := config.Parse("p.yaml", []byte(yaml))
	for _, want := range []string{`5:15`, `want mask, drop, block or log`, `unknown kind "cards"`, `kinds.jwt`, `fields[0].name`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q in it", err, want)
		}
	}
}
