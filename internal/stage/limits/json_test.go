package limits

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestScanJSON(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		maxDepth    int
		maxElements int
		want        jsonProblem
		offset      int // checked when want != jsonOK
		depth       int // checked when want == jsonOK
		elements    int // checked when want == jsonOK
	}{
		{name: "number", in: "1", want: jsonOK, depth: 0, elements: 1},
		{name: "string", in: `"a"`, want: jsonOK, elements: 1},
		{name: "literals", in: `[true,false,null]`, want: jsonOK, depth: 1, elements: 4},
		{name: "empty object", in: `{}`, want: jsonOK, depth: 1, elements: 1},
		{name: "empty array ws", in: " [ \n\t\r] ", want: jsonOK, depth: 1, elements: 1},
		{name: "object", in: `{"a":1,"b":[1,2,{"c":null}]}`, want: jsonOK, depth: 3, elements: 7},
		{name: "keys not counted", in: `{"a":{},"b":{}}`, want: jsonOK, depth: 2, elements: 3},
		{name: "escapes", in: `"a\"b\\c\/d\b\f\n\r\t\u00e9\uD83D\uDE00"`, want: jsonOK, elements: 1},
		{name: "utf8", in: `{"名前":"čeština 😀"}`, want: jsonOK, depth: 1, elements: 2},
		{name: "numbers", in: `[0,-0,1.5,-1.5e10,2E-3,1e+2,123456789012345678901234567890]`, want: jsonOK, depth: 1, elements: 8},
		{name: "depth at limit", in: `[[[1]]]`, maxDepth: 3, want: jsonOK, depth: 3, elements: 4},
		{name: "elements at limit", in: `[1,2,3]`, maxElements: 4, want: jsonOK, depth: 1, elements: 4},
		{name: "deep but allowed", in: strings.Repeat("[", 600) + strings.Repeat("]", 600), maxDepth: 600, want: jsonOK, depth: 600, elements: 600},

		{name: "too deep", in: `[[[1]]]`, maxDepth: 2, want: jsonTooDeep, offset: 2},
		{name: "too deep in object", in: `{"a":{"b":{}}}`, maxDepth: 2, want: jsonTooDeep, offset: 10},
		{name: "too many", in: `[1,2,3]`, maxElements: 3, want: jsonTooMany, offset: 5},

		{name: "empty", in: "", want: jsonMalformed, offset: 0},
		{name: "only ws", in: "  ", want: jsonMalformed, offset: 2},
		{name: "trailing data", in: `{} {}`, want: jsonMalformed, offset: 3},
		{name: "trailing comma array", in: `[1,]`, want: jsonMalformed, offset: 3},
		{name: "trailing comma object", in: `{"a":1,}`, want: jsonMalformed, offset: 7},
		{name: "missing colon", in: `{"a" 1}`, want: jsonMalformed, offset: 5},
		{name: "unquoted key", in: `{a:1}`, want: jsonMalformed, offset: 1},
		{name: "mismatched close", in: `[1}`, want: jsonMalformed, offset: 2},
		{name: "unclosed", in: `[1`, want: jsonMalformed, offset: 2},
		{name: "unclosed string", in: `"abc`, want: jsonMalformed, offset: 4},
		{name: "bad escape", in: `"\x"`, want: jsonMalformed, offset: 2},
		{name: "short unicode escape", in: `"\u12"`, want: jsonMalformed, offset: 5},
		{name: "raw newline in string", in: "\"a\nb\"", want: jsonMalformed, offset: 2},
		{name: "invalid utf8", in: "\"a\xffb\"", want: jsonMalformed, offset: 2},
		{name: "overlong utf8", in: "\"\xc0\xae\"", want: jsonMalformed, offset: 1},
		{name: "surrogate utf8", in: "\"\xed\xa0\x80\"", want: jsonMalformed, offset: 1},
		{name: "leading zero", in: `01`, want: jsonMalformed, offset: 1},
		{name: "plus number", in: `+1`, want: jsonMalformed, offset: 0},
		{name: "dot without digits", in: `1.`, want: jsonMalformed, offset: 2},
		{name: "exponent without digits", in: `1e+`, want: jsonMalformed, offset: 3},
		{name: "bare minus", in: `-`, want: jsonMalformed, offset: 1},
		{name: "bad literal", in: `tru`, want: jsonMalformed, offset: 0},
		{name: "literal suffix", in: `nullx`, want: jsonMalformed, offset: 4},
		{name: "nan", in: `NaN`, want: jsonMalformed, offset: 0},
		{name: "bom", in: "\xef\xbb\xbf{}", want: jsonMalformed, offset: 0},
		{name: "single quotes", in: `{'a':1}`, want: jsonMalformed, offset: 1},
		{name: "comment", in: `[1 /* c */]`, want: jsonMalformed, offset: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := scanJSON([]byte(tc.in), tc.maxDepth, tc.maxElements)
			if got.problem != tc.want {
				t.Fatalf("got problem %d, want %d (result %+v)", got.problem, tc.want, got)
			}
			if tc.want != jsonOK && got.offset != tc.offset {
				t.Errorf("got offset %d, want %d", got.offset, tc.offset)
			}
			if tc.want == jsonOK && (got.depth != tc.depth || got.elements != tc.elements) {
				t.Errorf("got depth %d elements %d, want %d %d", got.depth, got.elements, tc.depth, tc.elements)
			}
			// Whatever the limits say, validity agrees with encoding/json.
			if tc.want != jsonTooDeep && tc.want != jsonTooMany {
				if valid := tc.want == jsonOK; valid != (json.Valid([]byte(tc.in)) && utf8.ValidString(tc.in)) {
					t.Errorf("got valid %v, encoding/json disagrees", valid)
				}
			}
		})
	}
}

// TestScanJSONHuge checks that a megabyte of nesting neither recurses nor
// allocates much, with and without a depth limit.
func TestScanJSONHuge(t *testing.T) {
	in := bytes.Repeat([]byte("["), 1<<20)
	if got := scanJSON(in, 32, 0); got.problem != jsonTooDeep || got.offset != 32 {
		t.Errorf("got %+v, want too deep at 32", got)
	}
	got := scanJSON(in, 0, 0)
	if got.problem != jsonMalformed || got.offset != 1<<20 || got.depth != 1<<20 {
		t.Errorf("got %+v, want malformed at end with depth %d", got, 1<<20)
	}
	closed := append(bytes.Repeat([]byte("["), 1<<19), bytes.Repeat([]byte("]"), 1<<19)...)
	if got := scanJSON(closed, 0, 0); got.problem != jsonOK || got.depth != 1<<19 {
		t.Errorf("got %+v, want ok with depth %d", got, 1<<19)
	}
}

func TestScanJSONNoAllocs(t *testing.T) {
	in := []byte(`{"items":[{"id":1,"name":"a\"b","tags":["x","y"]},{"id":2,"ok":true,"v":null}]}`)
	if n := testing.AllocsPerRun(100, func() { scanJSON(in, 32, 10000) }); n != 0 {
		t.Errorf("got %v allocs, want 0", n)
	}
}

func TestJSONPointerAt(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		depth int
		elems int
		want  string
	}{
		{"root too deep", `[[1]]`, 1, 0, "/0"},
		{"object path", `{"a":{"b":[1,{"c":[[]]}]}}`, 4, 0, "/a/b/1/c"},
		{"array index", `[[1],[2],[[3]]]`, 2, 0, "/2/0"},
		{"elements", `{"x":[1,2,3],"y":{"z":[4,5]}}`, 0, 7, "/y/z/0"},
		{"escaped key", `{"a/b~c":[[1]]}`, 2, 0, "/a~1b~0c/0"},
		{"hostile key", "{\"\\u0000\\\"<script>\":[[1]]}", 2, 0, "/??<script>/0"},
		{"key after value string", `{"a":"v","b":[[1]]}`, 2, 0, "/b/0"},
		{"cut deep", strings.Repeat("[", 40), 30, 0, "/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := scanJSON([]byte(tc.in), tc.depth, tc.elems)
			if res.problem != jsonTooDeep && res.problem != jsonTooMany {
				t.Fatalf("got %+v, want a limit hit", res)
			}
			if got := jsonPointerAt([]byte(tc.in), res.offset); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPointerKeyLength(t *testing.T) {
	got := pointerKey([]byte(strings.Repeat("k", 100)))
	if want := strings.Repeat("k", maxPointerKeyLen) + "…"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzJSONScan checks the scanner against encoding/json.Valid. The two
// differ by design on one point: encoding/json accepts invalid UTF-8 in
// strings (it substitutes U+FFFD when decoding), the scanner refuses it,
// so the scanner must accept exactly what json.Valid accepts among valid
// UTF-8 inputs. The depth limit is 10000, encoding/json's own.
func FuzzJSONScan(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,2,{"b":null}],"c":"\u00e9\n"}`, `[]`, `{}`, `0`, `-1.5e+10`, `"\ud800"`,
		`[1,]`, `{"a"}`, `01`, "\"\xff\"", `[[[[[[`, `{"a":1}}`, `tru`, " \t\n1\r", `"\/"`, `1e`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res := scanJSON(b, 10000, 0)
		got := res.problem == jsonOK || res.problem == jsonDuplicate || res.problem == jsonCaseDuplicate
		want := json.Valid(b) && utf8.Valid(b)
		if got != want {
			t.Fatalf("scanJSON(%q) valid = %v (%+v), json.Valid && utf8.Valid = %v", b, got, res, want)
		}
		if !got && (res.offset < 0 || res.offset > len(b)) {
			t.Fatalf("offset %d out of range for %d bytes", res.offset, len(b))
		}
		if res.problem == jsonTooDeep || res.problem == jsonTooMany {
			_ = jsonPointerAt(b, res.offset)
		}
	})
}

func BenchmarkScanJSON1KB(b *testing.B) {
	doc := jsonDoc(1024)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		scanJSON(doc, 32, 10000)
	}
}

// jsonDoc returns a realistic JSON document of about n bytes.
func jsonDoc(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"items":[`)
	for i := 0; buf.Len() < n-60; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"id":12345,"name":"widget \"deluxe\" é","price":19.99,"tags":["a","b"],"ok":true}`)
	}
	buf.WriteString(`],"total":3}`)
	return buf.Bytes()
}
