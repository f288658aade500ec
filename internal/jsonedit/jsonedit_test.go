package jsonedit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"testing"
)

// rules is a visitor for tests: drop members by name, drop elements by
// index, replace strings holding "secret" and every number 42.
type rules struct {
	drop   map[string]bool
	dropEl map[int]bool
}

func (r rules) Member(_ string, name []byte) (string, Action) {
	if r.drop[string(name)] {
		return "", Drop
	}
	return string(name), Keep
}

func (r rules) Element(_ string, i int) (string, Action) {
	if r.dropEl[i] {
		return "", Drop
	}
	return fmt.Sprint(i), Keep
}

func (r rules) Scalar(_ string, k Kind, raw []byte) ([]byte, Action) {
	switch {
	case k == String && bytes.Contains(raw, []byte("secret")):
		return []byte(`"***"`), Replace
	case k == Number && string(raw) == "42":
		return []byte(`0`), Replace
	case k == String && string(raw) == `"drop-me"`:
		return nil, Drop
	}
	return nil, Keep
}

func TestRewrite(t *testing.T) {
	r := rules{drop: map[string]bool{"password": true, "x": true}, dropEl: map[int]bool{1: true}}
	cases := []struct{ name, in, want string }{
		{"unchanged", `{"a":1,"b":[1,2]}`, `{"a":1,"b":[1]}`},
		{"first member", `{"password":"p","a":1}`, `{"a":1}`},
		{"middle member", `{"a":1,"password":"p","b":2}`, `{"a":1,"b":2}`},
		{"last member", `{"a":1,"password":{"deep":[1,2,{"z":null}]}}`, `{"a":1}`},
		{"only member", `{"password":"p"}`, `{}`},
		{"all members", `{ "password" : 1 , "x" : 2 }`, `{ }`},
		{"spacing kept", "{\n  \"a\": 1,\n  \"password\": \"p\",\n  \"b\": 2\n}", "{\n  \"a\": 1,\n  \"b\": 2\n}"},
		{"escaped name", `{"pass\u0077ord":"p","a":1}`, `{"a":1}`},
		{"nested", `[{"a":{"password":1,"c":"my secret"}},{"b":2}]`, `[{"a":{"c":"***"}}]`},
		{"replace", `{"n":42,"m":42.0,"s":"secret"}`, `{"n":0,"m":42.0,"s":"***"}`},
		{"elements", `[0, 1, 2, 3]`, `[0, 2, 3]`},
		{"scalar root", `"a secret"`, `"***"`},
		{"scalar drops its member", `{"a":"drop-me","b":1,"c":"drop-me"}`, `{"b":1}`},
		{"scalar drops its element", `["drop-me",1,"drop-me",2,3]`, `[2,3]`},
		{"dropped scalar at the root", `"drop-me"`, `null`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, changed, err := Rewrite([]byte(c.in), "", r, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != c.want {
				t.Fatalf("got %s, want %s", out, c.want)
			}
			if changed != (c.in != c.want) {
				t.Errorf("changed %v", changed)
			}
			if !json.Valid(out) {
				t.Errorf("output is not JSON")
			}
		})
	}
	src := []byte(`{"a":1}`)
	out, changed, _ := Rewrite(src, "", rules{}, nil, 0)
	if changed || &out[0] != &src[0] {
		t.Error("an unchanged document was copied")
	}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = Rewrite(src, "", rules{}, nil, 0) }); n > 1 {
		t.Errorf("an unchanged document costs %v allocations", n)
	}
}

func TestRewriteErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `{"a"}`, `{"a":}`, `[1,]`, `{"a":1,}`, `01`, `1.`, `-`, `1e`, `"\x"`, "\"a\x01\"", `tru`, `{} {}`, `[1 2]`, `"\u12"`, `{"a":1]`} {
		if _, _, err := Rewrite([]byte(in), "", rules{}, nil, 0); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	deep := strings.Repeat("[", 200) + strings.Repeat("]", 200)
	if _, _, err := Rewrite([]byte(deep), "", rules{}, nil, 100); err == nil || !strings.Contains(err.Error(), "deeper") {
		t.Errorf("depth: got %v", err)
	}
	// The depth limit also holds inside a dropped value.
	deepDrop := `{"password":` + deep + `}`
	if _, _, err := Rewrite([]byte(deepDrop), "", rules{drop: map[string]bool{"password": true}}, nil, 100); err == nil {
		t.Error("a dropped value was not depth-checked")
	}
	if _, _, err := Rewrite([]byte(`{"a":1}`), "", stopper{}, nil, 0); !errors.Is(err, ErrStopped) {
		t.Errorf("stop: got %v", err)
	}
}

type stopper struct{ rules }

func (stopper) Member(string, []byte) (string, Action) { return "", Stop }

func TestQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"plain", "a\"b\\c", "tab\tnl\n", "<script>&", "ünï€😀", "\x00\x1f", "\u2028", string([]byte{0xff, 'a'})} {
		q := AppendQuoted(nil, s)
		var back string
		if err := json.Unmarshal(q, &back); err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if back != want {
			t.Errorf("%q -> %s -> %q", s, q, back)
		}
		if got := string(AppendUnquoted(nil, q[1:len(q)-1])); got != want {
			t.Errorf("AppendUnquoted(%s) = %q, want %q", q, got, want)
		}
	}
}

// tree is an ordered JSON value (duplicate names kept), as the reference
// decoder of the fuzz test builds it.
type member struct {
	name string
	val  any
}

func decodeOrdered(d *json.Decoder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := []member{}
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeOrdered(d)
				if err != nil {
					return nil, err
				}
				obj = append(obj, member{k.(string), v})
			}
			_, err := d.Token()
			return obj, err
		case '[':
			arr := []any{}
			for d.More() {
				v, err := decodeOrdered(d)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := d.Token()
			return arr, err
		}
	}
	return tok, nil
}

func parseOrdered(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	v, err := decodeOrdered(d)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// hashRules drops members whose name hashes odd, elements at multiples of
// three, and replaces strings that hash to 0 mod 4.
type hashRules struct{}

func h(b []byte) uint32 { f := fnv.New32a(); f.Write(b); return f.Sum32() }

func (hashRules) Member(_ int, name []byte) (int, Action) {
	if h(name)%2 == 1 {
		return 0, Drop
	}
	return 0, Keep
}
func (hashRules) Element(_ int, i int) (int, Action) {
	if i%3 == 0 {
		return 0, Drop
	}
	return 0, Keep
}
func (hashRules) Scalar(_ int, k Kind, raw []byte) ([]byte, Action) {
	if k == String && h(raw)%4 == 0 {
		return []byte(`"R"`), Replace
	}
	if k == Number && h(raw)%5 == 0 {
		return nil, Drop
	}
	return nil, Keep
}

// droppedNumber reports whether hashRules drops the number n.
func droppedNumber(v any) bool {
	n, ok := v.(json.Number)
	return ok && h([]byte(n))%5 == 0
}

// reference applies hashRules to an ordered tree.
func reference(v any) any {
	switch t := v.(type) {
	case []member:
		out := []member{}
		for _, m := range t {
			if h([]byte(m.name))%2 == 0 && !droppedNumber(m.val) {
				out = append(out, member{m.name, reference(m.val)})
			}
		}
		return out
	case []any:
		out := []any{}
		for i, e := range t {
			if i%3 != 0 && !droppedNumber(e) {
				out = append(out, reference(e))
			}
		}
		return out
	case string:
		if h(AppendQuoted(nil, t))%4 == 0 {
			return "R"
		}
	case json.Number:
		if droppedNumber(t) {
			return nil // only at the root
		}
	}
	return v
}

// FuzzRewrite checks the walker against encoding/json: it accepts exactly
// the documents encoding/json accepts (within the depth limit), its output
// is valid JSON, and the output is the reference transformation of the
// input (members, elements and values in order, duplicates kept).
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[1,2,3],"c":{"d":"x"}}`, `[]`, `{}`, `"s"`, `[{"password":"$2b$12$abc"},{"card":4111111111111111}]`,
		`{"pass\u0077ord":"\ud83d\ude00","n":-0.5e+10}`, ` [ 1 , { } , [ ] ] `, `{"a":{"a":{"a":[null,true,false]}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, _, err := Rewrite(in, 0, hashRules{}, nil, 64)
		want, rerr := parseOrdered(in)
		var se *SyntaxError
		if err != nil && errors.As(err, &se) && strings.Contains(se.Msg, "deeper") {
			return
		}
		if (err == nil) != (rerr == nil) {
			t.Fatalf("walker error %v, encoding/json error %v on %q", err, rerr, in)
		}
		if err != nil {
			return
		}
		got, perr := parseOrdered(out)
		if perr != nil {
			t.Fatalf("output %q is not JSON: %v (input %q)", out, perr, in)
		}
		// Strings were replaced on their raw spelling: compare after
		// normalising escapes the same way in the reference.
		if g, w := fmt.Sprintf("%#v", got), fmt.Sprintf("%#v", reference(want)); g != w && !sameUpToEscapes(in) {
			t.Fatalf("input %q\noutput %q\ngot  %s\nwant %s", in, out, g, w)
		}
	})
}

// sameUpToEscapes reports inputs whose strings are spelled with escapes:
// the walker hashes the raw spelling, the reference the re-encoded one.
func sameUpToEscapes(in []byte) bool { return bytes.IndexByte(in, '\\') >= 0 || !isASCII(in) }

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
