package limits

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/pipeline"
)

// firstKeyWins reads a JSON object's top-level string member the way
// gjson, jsonparser and several frameworks do: the first occurrence wins.
func firstKeyWins(b []byte, name string) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return "", false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return "", false
		}
		if kt == name {
			var s string
			_ = json.Unmarshal(v, &s)
			return s, true
		}
	}
	return "", false
}

// TestDuplicateKeys is the unit regression test for finding 3 of issue 11:
// a body whose duplicate keys two parsers read differently is refused, with
// the pointer of the second key, or (reencode) forwarded as the one
// document the gateway checked.
func TestDuplicateKeys(t *testing.T) {
	tests := []struct {
		name, body string
		ptr        string // "" means accepted
	}{
		{"the pentest body", `{"owner":"1002","item":"x","owner":"1001"}`, "/owner"},
		{"escaped spelling", `{"owner":"1002","own\u0065r":"1001"}`, "/owner"},
		{"escaped both", `{"\u006fwner":1,"o\u0077ner":2}`, "/owner"},
		{"case", `{"owner":"1002","OWNER":"1001"}`, "/OWNER"},
		{"kelvin sign folds to k", `{"kind":"a","\u212aind":"b"}`, "/\u212aind"},
		{"long s folds to s", `{"size":1,"\u017fize":2}`, "/\u017fize"},
		{"nested", `{"a":{"b":[{"max":1},{"max":2,"max":3}]}}`, "/a/b/1/max"},
		{"in an array of objects", `[{"id":1},{"id":2,"id":3}]`, "/1/id"},
		{"same key in sibling objects is fine", `{"a":{"id":1},"b":{"id":2}}`, ""},
		{"same key at two levels is fine", `{"id":1,"x":{"id":2}}`, ""},
		{"prefixes are different keys", `{"id":1,"id2":2,"i":3}`, ""},
		{"many keys then a duplicate", manyKeys(200) + `,"k7":0}`, "/k7"},
		{"many keys then a case duplicate", manyKeys(200) + `,"K150":0}`, "/K150"},
		{"many keys no duplicate", manyKeys(200) + `}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := scanJSON([]byte(tc.body), 32, 100000)
			dup := res.problem == jsonDuplicate || res.problem == jsonCaseDuplicate
			if (tc.ptr != "") != dup {
				t.Fatalf("got %+v, want duplicate=%v", res, tc.ptr != "")
			}
			if dup {
				if got := jsonPointerAt([]byte(tc.body), res.value); got != pointerSegments(tc.ptr) {
					t.Fatalf("pointer: got %q, want %q", got, pointerSegments(tc.ptr))
				}
			}
		})
	}
}

// pointerSegments renders a pointer the way pointerKey does (non-ASCII
// bytes become '?').
func pointerSegments(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if c := p[i]; c >= 0x80 {
			b.WriteByte('?')
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func manyKeys(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + itoa(i) + `":` + itoa(i))
	}
	return b.String()
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + jsonNumber(i)) }

func jsonNumber(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// TestDuplicateKeysThroughTheLimiter: refused by default (400 with the
// pointer), whatever the Content-Type says as long as some reader may take
// the body for JSON; with reencode, every later reader and a first-key-wins
// upstream see the value that was checked.
func TestDuplicateKeysThroughTheLimiter(t *testing.T) {
	body := `{"owner":"1002","item":"x","owner":"1001"}`
	for _, ct := range []string{"application/json", "application/vnd.api+json", "text/plain", ""} {
		t.Run("refused/"+ct, func(t *testing.T) {
			l, _ := New(Config{}, nil)
			r := httptest.NewRequest("POST", "/orders", strings.NewReader(body))
			if ct != "" {
				r.Header.Set("Content-Type", ct)
			}
			x := pipeline.NewExchange(r, "r", time.Now())
			d, err := l.Request(context.Background(), x)
			if err != nil || d == nil || d.Status != 400 || d.Rules[0] != RuleJSONDuplicateKey || d.Location != "body:/owner" {
				t.Fatalf("got %+v %v, want 400 %s at body:/owner", d, err, RuleJSONDuplicateKey)
			}
		})
	}
	t.Run("not JSON is not read as JSON", func(t *testing.T) {
		l, _ := New(Config{}, nil)
		r := httptest.NewRequest("POST", "/orders", strings.NewReader(`owner=1&owner=2`))
		r.Header.Set("Content-Type", "text/plain")
		if d, _ := l.Request(context.Background(), pipeline.NewExchange(r, "r", time.Now())); d != nil {
			t.Fatalf("got %+v, want none", d)
		}
	})
	t.Run("reencode", func(t *testing.T) {
		l, err := New(Config{DuplicateKeys: "reencode"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("POST", "/orders", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		x := pipeline.NewExchange(r, "r", time.Now())
		if d, err := l.Request(context.Background(), x); d != nil || err != nil {
			t.Fatalf("got %+v %v, want accepted", d, err)
		}
		checked, _ := x.Body()
		var last struct{ Owner string }
		if err := json.Unmarshal(checked, &last); err != nil || last.Owner != "1001" {
			t.Fatalf("checked body %s: owner %q, want 1001", checked, last.Owner)
		}
		sent, _ := io.ReadAll(x.Request.Body)
		if first, _ := firstKeyWins(sent, "owner"); first != "1001" {
			t.Fatalf("a first-key-wins upstream reads owner %q from %s, want the checked 1001", first, sent)
		}
		if want := `{"owner":"1001","item":"x"}`; string(sent) != want || x.Request.ContentLength != int64(len(want)) {
			t.Fatalf("forwarded %s (length %d), want %s", sent, x.Request.ContentLength, want)
		}
	})
	t.Run("reencode still refuses case duplicates", func(t *testing.T) {
		l, _ := New(Config{DuplicateKeys: "reencode"}, nil)
		r := httptest.NewRequest("POST", "/orders", strings.NewReader(`{"owner":"1","owner":"2","Owner":"3"}`))
		r.Header.Set("Content-Type", "application/json")
		d, _ := l.Request(context.Background(), pipeline.NewExchange(r, "r", time.Now()))
		if d == nil || d.Rules[0] != RuleJSONDuplicateKey {
			t.Fatalf("got %+v, want refused", d)
		}
	})
}

// dupReference finds duplicate keys the slow way: a token walk with one
// list of decoded keys per open object.
func dupReference(b []byte) (exact, folded bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		obj    bool
		keys   []string
		expect bool // next string token in this object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return exact, folded, nil
		}
		if err != nil {
			return false, false, err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		isKey := top != nil && top.obj && top.expect
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if top != nil && top.obj {
					top.expect = true
				}
				stack = append(stack, &frame{obj: d == '{', expect: d == '{'})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].expect = true
				}
			}
			continue
		}
		if isKey {
			k := tok.(string)
			for _, o := range top.keys {
				if o == k {
					exact = true
				} else if strings.EqualFold(o, k) {
					folded = true
				}
			}
			top.keys = append(top.keys, k)
			top.expect = false
			continue
		}
		if top != nil && top.obj {
			top.expect = true
		}
	}
}

// FuzzDuplicateKeys checks the scanner's duplicate detection against the
// reference on every valid document: the scanner stops at the first
// duplicate, so it must report one exactly when the reference finds any,
// and an exact one whenever the first the reference meets is exact.
func FuzzDuplicateKeys(f *testing.F) {
	for _, s := range []string{
		`{"owner":"1002","item":"x","owner":"1001"}`, `{"a":1,"A":2}`, `{"a":{"a":{"a":1}}}`,
		`[{"x":1},{"x":2}]`, `{"\u0061":1,"a":2}`, `{"k":1,"\u212a":2}`, manyKeys(40) + `,"k39":1}`,
		`{"a":1,"b":{"c":2,"c":3}}`, `{"é":1,"É":2}`, `{"":1,"":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) || !utf8.Valid(b) {
			return
		}
		res := scanJSON(b, 10000, 0)
		exact, folded, err := dupReference(b)
		if err != nil {
			return
		}
		got := res.problem == jsonDuplicate || res.problem == jsonCaseDuplicate
		if got != (exact || folded) {
			t.Fatalf("scanJSON(%q) = %+v, reference exact=%v folded=%v", b, res, exact, folded)
		}
		if !got && res.problem != jsonOK {
			t.Fatalf("valid %q: got %+v", b, res)
		}
		if got {
			_ = jsonPointerAt(b, res.value)
			// Re-encoding a document with only exact duplicates leaves none.
			if re, err := reencodeJSON(b); err == nil && !folded {
				if r2 := scanJSON(re, 10000, 0); r2.problem != jsonOK {
					t.Fatalf("re-encoded %q still has %+v: %s", b, r2, re)
				}
				var a, c any
				if json.Unmarshal(b, &a) != nil || json.Unmarshal(re, &c) != nil || !jsonEqual(a, c) {
					t.Fatalf("re-encoding changed the document: %s -> %s", b, re)
				}
			}
		}
	})
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

var _ = http.MethodGet
