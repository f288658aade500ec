package stage_test

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage"
)

var stageIDRe = regexp.MustCompile(`^[a-z][a-z0-9]*(\.[a-z][a-z0-9-]*)*$`)

// TestRegistryEntries proves, for every registry entry: its id is a unique
// dotted lowercase id, its block has one type under one key, and the
// config file accepts it where its scope says, the JSON Schema lists it
// and docs/config.md documents it.
func TestRegistryEntries(t *testing.T) {
	raw, err := config.Schema()
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Defs       map[string]json.RawMessage `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	var apis struct {
		Items struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"items"`
	}
	if err := json.Unmarshal(schema.Properties["apis"], &apis); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	typeOfKey := map[string]reflect.Type{}
	keyOfType := map[reflect.Type]string{}
	for _, m := range stage.Registry {
		t.Run(m.StageID(), func(t *testing.T) {
			id := m.StageID()
			if !stageIDRe.MatchString(id) {
				t.Errorf("stage id %q is not dotted lowercase", id)
			}
			if ids[id] {
				t.Errorf("stage id %q is registered twice", id)
			}
			ids[id] = true
			key := m.ConfigKey()
			if key == "" {
				return
			}
			typ := m.ConfigType()
			if typ == nil || typ.Kind() != reflect.Struct {
				t.Fatalf("block %q: got type %v, want a struct", key, typ)
			}
			if prev, ok := typeOfKey[key]; ok && prev != typ {
				t.Errorf("block %q: type %v here, %v in another entry", key, typ, prev)
			}
			typeOfKey[key] = typ
			if prev, ok := keyOfType[typ]; ok && prev != key {
				t.Errorf("type %v: key %q here, %q in another entry", typ, key, prev)
			}
			keyOfType[typ] = key

			var yaml, keyLine string
			if m.ConfigScope()&pipeline.ScopeAPI != 0 {
				if _, ok := apis.Items.Properties[key]; !ok {
					t.Errorf("schema: apis[].%s missing", key)
				}
				yaml = "apis:\n  - name: a\n    upstream: {targets: [\"http://127.0.0.1:1\"]}\n    " + key + ": {}\n"
				keyLine = "`apis[]." + key + "`"
			}
			if m.ConfigScope()&pipeline.ScopeGlobal != 0 {
				if _, ok := schema.Properties[key]; !ok {
					t.Errorf("schema: top-level %s missing", key)
				}
				yaml = key + ": {}\napis:\n  - name: a\n    upstream: {targets: [\"http://127.0.0.1:1\"]}\n"
				keyLine = "`" + key + "`"
			}
			if !regexp.MustCompile(`(?m)^Key: .*` + regexp.QuoteMeta(keyLine)).Match(doc) {
				t.Errorf("docs/config.md: no section with Key: %s", keyLine)
			}
			if !strings.Contains(string(doc), "| `"+key+"` |") {
				t.Errorf("docs/config.md: no row for %s", key)
			}
			// The decoder accepts the block (its own validation may refuse
			// an empty block, but never as an unknown key).
			_, err := config.Parse("", []byte(yaml))
			if err != nil && strings.Contains(err.Error(), "unknown key") {
				t.Errorf("config.Parse: %v", err)
			}
		})
	}
}

// TestRegistryOrder pins the orderings stages rely on: what a stage reads
// from the exchange, an earlier stage wrote.
func TestRegistryOrder(t *testing.T) {
	var ids []string
	for _, m := range stage.Registry {
		ids = append(ids, m.StageID())
	}
	pos := func(id string) int {
		i := slices.Index(ids, id)
		if i < 0 {
			t.Fatalf("stage %q is not registered (registry: %v)", id, ids)
		}
		return i
	}
	before := [][2]string{
		{"ban", "ipfilter"},                 // a banned client costs nothing else
		{"ratelimit.ip", "authn"},           // floods are refused before any credential check
		{"authn", "ratelimit.principal"},    // principal limits need the principal
		{"authn", "authz"},                  // authorization needs the principal
		{"validate", "waf"},                 // waf skips the values validate proved (Exchange.Proven)
		{"limits.request", "ratelimit.ip"},  // the body limit is set before anyone reads
		{"limits.request", "validate"},      // validate reads the body under the limit
		{"ratelimit.principal", "validate"}, // expensive checks after cheap refusals
		{"cors", "authn"},                   // preflights carry no credential: answered first
		{"headers", "ratelimit.ip"},         // the gateway's own refusals carry the security headers
		{"csrf", "authn"},                   // a forged request costs no credential check
		// Response side, the reverse: the upstream's answer is judged
		// (authz owner rules, validate) before the body stages rewrite it,
		// errors are scrubbed before anything else reads them, undeclared
		// properties go before masking looks at what is left.
		{"scrub", "authz"},
		{"scrub", "validate"},
		{"uniform", "scrub"},
		{"contract", "uniform"},
		{"mask", "contract"},
	}
	for _, b := range before {
		if pos(b[0]) >= pos(b[1]) {
			t.Errorf("%s must run before %s (registry: %v)", b[0], b[1], ids)
		}
	}
}
