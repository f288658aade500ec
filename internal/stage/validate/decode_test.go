package validate

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// stdDecode is what validate did before decodeJSON: encoding/json with
// UseNumber, one value, nothing but whitespace after it.
func stdDecode(body []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return v, true
}

var decodeSeeds = []string{
	`{"pet_id":"p-20931","weight_kg":31.4,"notes":"She's a bit \"overweight\"\n","tags":["a","b"]}`,
	`[]`, `{}`, ` [1, -0, 0.5e-3, 1E+2, true, false, null] `, `"\u00e9\ud83d\ude00\ud800\udc00"`, `"\ud800"`, `"\ud800\u0041"`,
	`"\udc00\ud800"`, `"\ud83d\ud83d\ude00"`, `"\u12"`, `"\x"`, `"a\tb"`, "\"a\tb\"", `{"a":1,"a":2}`, `{"a" : [ {"b" :null} ] }`,
	`01`, `-`, `1.`, `.5`, `1e`, `+1`, `NaN`, `tru`, `nul`, `[1,]`, `{"a":1,}`, `{"a"}`, `{a:1}`, `[1 2]`, `{"a":1}{}`,
	`{"a":1} x`, `1 2`, "", " ", `"unterminated`, `{"a":"\/\\\b\f\n\r\t"}`, "[\"\x7f\"]", strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000), `{"":""}`, `123456789012345678901234567890`, `-0.0e-0`,
}

// TestDecodeJSONMatchesEncodingJSON runs the seeds (valid and invalid
// documents, every escape, lone and swapped surrogates, the nesting limit)
// through both decoders.
func TestDecodeJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range decodeSeeds {
		checkDecode(t, []byte(s))
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range decodeSeeds {
		if len(s) < 2000 {
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !utf8.Valid(body) {
			return // the caller refuses it before decoding
		}
		checkDecode(t, body)
	})
}

func checkDecode(t *testing.T, body []byte) {
	t.Helper()
	want, wantOK := stdDecode(body)
	got, err := decodeJSON(body)
	if (err == nil) != wantOK {
		t.Fatalf("%.200q: decodeJSON error %v, encoding/json accepts: %v", body, err, wantOK)
	}
	if wantOK && !reflect.DeepEqual(got, want) {
		t.Fatalf("%.200q: decodeJSON gives %#v, encoding/json %#v", body, got, want)
	}
}
