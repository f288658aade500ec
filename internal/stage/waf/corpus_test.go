package waf_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"html"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// The external corpora (issue 17): attack and benign data that nobody on
// this project wrote, sent in every place of a request and in every
// encoding a client or an attacker uses. testdata/corpus/README.md says
// where each set comes from. Debian's wfuzz, sqlmap and fortunes packages
// are read where they are installed (scripts/test-deps.sh installs them).
var (
	corpusFull   = flag.Bool("waf.corpus-full", false, "run every corpus request (bench/waf-corpus.sh); default: a bounded sample")
	corpusSample = flag.Uint("waf.corpus-sample", 0, "run 1 in N of every attack and benign case (the same cases through the stage and through Coraza + CRS alone); 0: the CI sample, or every case with -waf.corpus-full")
	corpusOut    = flag.String("waf.corpus-table", "", "write the corpus tables (markdown) to this file")
)

// corpusPlaces are where the corpus puts a value: a value position, or a
// name position (the parameter or field name itself).
var corpusPlaces = []string{
	"path", "query", "query-name", "header", "cookie", "json", "json-key",
	"form", "form-name", "multipart", "multipart-name", "xml",
	"graphql", "odata",
}

// encodings are how a payload is carried. plain is as written; the others
// are what evasions and clients do on top of the place's own encoding.
var encodings = []string{"plain", "url", "double-url", "base64", "base64-space", "json-escape", "html-entity"}

// corpusSet is one class of payloads.
type corpusSet struct {
	class    string
	payloads []string
}

// loadJSONSet reads testdata/corpus/NAME.json.
func loadJSONSet(t testing.TB, name string) corpusSet {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "corpus", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Class    string   `json:"class"`
		Payloads []string `json:"payloads"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return corpusSet{class: f.Class, payloads: f.Payloads}
}

// attackSets returns every attack class: the committed public collections
// and, where installed, Debian's wfuzz injection lists and sqlmap's
// payload templates.
func attackSets(t testing.TB) []corpusSet {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "corpus", "attack-*.json"))
	var out []corpusSet
	for _, f := range files {
		s := loadJSONSet(t, strings.TrimSuffix(filepath.Base(f), ".json"))
		s.payloads = attackOnly(s.payloads)
		out = append(out, s)
	}
	for _, w := range []struct{ class, file string }{
		{"wfuzz-sqli", "SQL.txt"}, {"wfuzz-xss", "XSS.txt"}, {"wfuzz-traversal", "Traversal.txt"},
		{"wfuzz-xml", "XML.txt"}, {"wfuzz-all", "All_attack.txt"},
	} {
		if l := readLines("/usr/share/wfuzz/wordlist/Injections/" + w.file); len(l) > 0 {
			out = append(out, corpusSet{w.class, attackOnly(l)})
		} else {
			t.Logf("wfuzz list %s not installed (scripts/test-deps.sh installs wfuzz)", w.file)
		}
	}
	if s := sqlmapPayloads(t); len(s) > 0 {
		out = append(out, corpusSet{"sqlmap", s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].class < out[j].class })
	return out
}

// seedOnly matches list entries that are fuzzing seeds, not attacks: a
// bare word or number ("delete", "TRUE", "2147483647"), one encoded or
// escaped character ("%2A", "\\28", "&#x3C", "&lt;"), or at most three
// characters ("*|", "')"). The public lists mix them with payloads; a WAF
// that blocked them would block ordinary values.
var seedOnly = regexp.MustCompile(`^(?:[A-Za-z_]+|[0-9]+|%[0-9A-Fa-f]{2}|\\[0-9A-Fa-f]{2}|\\x[0-9A-Fa-f]{2}|&#[xX]?0*[0-9A-Fa-f]+;?|&[a-z]+;|.{1,3})$`)

// attackOnly drops the fuzzing seeds (see seedOnly).
func attackOnly(l []string) []string {
	var out []string
	for _, p := range l {
		if !seedOnly.MatchString(strings.TrimSpace(p)) {
			out = append(out, p)
		}
	}
	return out
}

func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) != "" && utf8.ValidString(l) {
			out = append(out, l)
		}
	}
	return out
}

// sqlmapPayloads expands sqlmap's test templates (payloads/*.xml, each
// <payload> with each <boundary> prefix and suffix whose clause and where
// fit), the way sqlmap itself builds its requests, with fixed values for
// its random markers.
func sqlmapPayloads(t testing.TB) []string {
	dir := "/usr/share/sqlmap/data/xml"
	bb, err := os.ReadFile(filepath.Join(dir, "boundaries.xml"))
	if err != nil {
		t.Logf("sqlmap not installed (scripts/test-deps.sh installs it): %v", err)
		return nil
	}
	tag := func(s, name string) string {
		m := regexp.MustCompile(`(?s)<` + name + `>(.*?)</` + name + `>`).FindStringSubmatch(s)
		if m == nil {
			return ""
		}
		return html.UnescapeString(strings.TrimSpace(m[1]))
	}
	type boundary struct{ prefix, suffix string }
	var bounds []boundary
	for _, m := range regexp.MustCompile(`(?s)<boundary>(.*?)</boundary>`).FindAllStringSubmatch(string(bb), -1) {
		if lvl := tag(m[1], "level"); lvl > "3" {
			continue
		}
		bounds = append(bounds, boundary{tag(m[1], "prefix"), tag(m[1], "suffix")})
	}
	files, _ := filepath.Glob(filepath.Join(dir, "payloads", "*.xml"))
	repl := strings.NewReplacer("[RANDNUM]", "4521", "[RANDNUM1]", "7310", "[RANDNUM2]", "8832", "[RANDNUM3]", "1170",
		"[RANDNUM4]", "9051", "[RANDNUM5]", "2236", "[RANDSTR]", "qWeR", "[RANDSTR1]", "zXcV", "[RANDSTR2]", "aSdF",
		"[DELIMITER_START]", "qkzxq", "[DELIMITER_STOP]", "qvqjq", "[SLEEPTIME]", "5", "[GENERIC_SQL_COMMENT]", "-- -",
		"[INFERENCE]", "5521=5521", "[ORIGVALUE]", "1", "[CHAR]", "NULL", "[COLSTART]", "1", "[COLSTOP]", "10",
		"[UNION]", "UNION ALL SELECT NULL,NULL,NULL", "[QUERY]", "SELECT 1", "[ORIGINAL]", "1")
	var out []string
	seen := map[string]bool{}
	i := 0
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, m := range regexp.MustCompile(`(?s)<test>(.*?)</test>`).FindAllStringSubmatch(string(b), -1) {
			req := tag(m[1], "request")
			p := tag(req, "payload")
			if p == "" {
				continue
			}
			// One boundary per test, rotating, keeps the set at a few
			// hundred payloads with every prefix and suffix shape used.
			bd := bounds[i%len(bounds)]
			i++
			s := repl.Replace("1" + bd.prefix + " " + p + bd.suffix)
			s = regexp.MustCompile(`\[[A-Z_0-9]+\]`).ReplaceAllString(s, "1")
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// benignSets returns the benign free text: Debian's fortunes (every
// fortune up to 600 bytes), e-mail addresses and user agents from fuzzdb.
func benignSets(t testing.TB) []corpusSet {
	t.Helper()
	var out []corpusSet
	if f := fortunes(); len(f) > 0 {
		out = append(out, corpusSet{"fortunes", f})
	} else {
		t.Log("fortunes not installed (scripts/test-deps.sh installs fortunes)")
	}
	out = append(out, loadJSONSet(t, "benign-emails"), loadJSONSet(t, "benign-user-agents"))
	return out
}

// fortunes reads every fortune (the files of /usr/share/games/fortunes,
// entries separated by "%" lines) of at most 600 bytes, in file order.
func fortunes() []string {
	files, _ := filepath.Glob("/usr/share/games/fortunes/*")
	sort.Strings(files)
	var out []string
	for _, f := range files {
		if filepath.Ext(f) != "" {
			continue // .dat indexes and .u8 copies
		}
		b, err := os.ReadFile(f)
		if err != nil || !utf8.Valid(b) {
			continue
		}
		for _, e := range strings.Split(string(b), "\n%\n") {
			e = strings.TrimSpace(strings.TrimPrefix(e, "%\n"))
			if e != "" && len(e) <= 600 && utf8.ValidString(e) {
				out = append(out, e)
			}
		}
	}
	return out
}

// encode applies an encoding to a payload; ok is false when the encoding
// makes no sense for it.
func encode(enc, p string) (string, bool) {
	switch enc {
	case "plain":
		return p, true
	case "url":
		return url.QueryEscape(p), true
	case "double-url":
		return url.QueryEscape(url.QueryEscape(p)), true
	case "base64":
		return base64.StdEncoding.EncodeToString([]byte(p)), true
	case "base64-space":
		// Base64 put into a query or form value without escaping '+',
		// which the server's form decoding turns into spaces.
		s := base64.StdEncoding.EncodeToString([]byte(p))
		if !strings.Contains(s, "+") {
			return "", false
		}
		return strings.ReplaceAll(s, "+", " "), true
	case "html-entity":
		// Every character but letters and digits as an HTML numeric
		// character reference (&#x3c;script&#x3e;), as an HTML escaper
		// or an evasion writes it; for an upstream that decodes them.
		return escapeNonAlnum(p, func(r rune) string { return fmt.Sprintf("&#x%x;", r) }), true
	case "json-escape":
		return escapeNonAlnum(p, func(r rune) string {
			if r > 0xffff {
				return string(r)
			}
			return fmt.Sprintf(`\u%04x`, r)
		}), true
	}
	panic(enc)
}

// escapeNonAlnum writes every rune of p but ASCII letters and digits as
// esc writes it.
func escapeNonAlnum(p string, esc func(rune) string) string {
	var b strings.Builder
	for _, r := range p {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
			continue
		}
		b.WriteString(esc(r))
	}
	return b.String()
}

const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"

// corpusRequest puts v in place; ok is false when HTTP cannot carry v
// there (a line break in a header; the listener refuses it before any
// stage).
func corpusRequest(place, v string) (*http.Request, bool) {
	var r *http.Request
	ctlFree := !strings.ContainsAny(v, "\r\n\x00") && !strings.ContainsFunc(v, func(c rune) bool { return c < 0x20 && c != '\t' || c == 0x7f })
	switch place {
	case "path":
		r = httptest.NewRequest("GET", "/api/items/"+url.PathEscape(v), nil)
	case "query":
		r = httptest.NewRequest("GET", "/api/items?limit=10&q="+url.QueryEscape(v), nil)
	case "query-name":
		r = httptest.NewRequest("GET", "/api/items?limit=10&"+url.QueryEscape(v)+"=1", nil)
	case "header":
		if !ctlFree {
			return nil, false
		}
		r = httptest.NewRequest("GET", "/api/items", nil)
		r.Header.Set("X-Note", v)
	case "cookie":
		if !ctlFree {
			return nil, false
		}
		r = httptest.NewRequest("GET", "/api/items", nil)
		r.Header.Set("Cookie", "session=abc123; pref="+url.QueryEscape(v))
	case "json", "json-key":
		var doc any = map[string]any{"id": 42, "note": v, "tags": []string{"a", "b"}}
		if place == "json-key" {
			doc = map[string]any{"id": 42, v: "x"}
		} else if t := strings.TrimSpace(v); strings.HasPrefix(t, "{") && json.Valid([]byte(t)) {
			var sub any
			_ = json.Unmarshal([]byte(t), &sub)
			doc = map[string]any{"id": 42, "note": sub}
		}
		b, _ := json.Marshal(doc)
		r = httptest.NewRequest("POST", "/api/items", bytes.NewReader(b))
		r.Header.Set("Content-Type", "application/json")
	case "form":
		r = httptest.NewRequest("POST", "/api/items", strings.NewReader("id=42&note="+url.QueryEscape(v)))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "form-name":
		r = httptest.NewRequest("POST", "/api/items", strings.NewReader("id=42&"+url.QueryEscape(v)+"=x"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "multipart", "multipart-name":
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		_ = mw.WriteField("id", "42")
		if place == "multipart" {
			_ = mw.WriteField("note", v)
		} else {
			if strings.ContainsAny(v, "\r\n") {
				return nil, false
			}
			_ = mw.WriteField(v, "x")
		}
		_ = mw.Close()
		r = httptest.NewRequest("POST", "/api/items", &b)
		r.Header.Set("Content-Type", mw.FormDataContentType())
	case "graphql":
		// A string argument of a GraphQL query in a JSON body: the stage
		// reads the document's literals (graphQLStrings).
		doc := "query Search($limit: Int = 10) {\n  search(text: " + gqlQuote(v) + ", first: $limit) {\n    id\n    title\n  }\n}"
		b, _ := json.Marshal(map[string]any{"query": doc, "variables": map[string]any{"limit": 5}})
		r = httptest.NewRequest("POST", "/graphql", bytes.NewReader(b))
		r.Header.Set("Content-Type", "application/json")
	case "odata":
		// A string literal of an OData $filter (odataStrings).
		f := "Name eq '" + strings.ReplaceAll(v, "'", "''") + "' and Price gt 5"
		r = httptest.NewRequest("GET", "/odata/Products?$top=10&$filter="+url.QueryEscape(f), nil)
	case "xml":
		body := "<item><id>42</id><note>" + html.EscapeString(v) + "</note></item>"
		if t := strings.TrimSpace(v); strings.HasPrefix(t, "<?xml") || strings.HasPrefix(strings.ToLower(t), "<!doctype") {
			body = t
		}
		r = httptest.NewRequest("POST", "/api/items", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/xml")
	default:
		panic(place)
	}
	r.Host = "api.example.com"
	r.Header.Set("User-Agent", browserUA)
	r.Header.Set("Accept", "application/json")
	return r, true
}

// sampled reports whether a case is in the bounded CI sample: a fixed
// 1-in-n choice by hash, so every run checks the same cases.
// gqlQuote writes v as a GraphQL string value (GraphQL's escapes are
// JSON's; control characters as \u escapes).
func gqlQuote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// apiQueries are the query-language sets (testdata/corpus/queries-*.json):
// GraphQL documents from the GraphQL specification, sent as a JSON body's
// "query" and as a GET's query parameter, and OData request targets from
// the OData ABNF test cases, sent as GETs. Benign, as a service of each
// kind receives them.
func apiQueries(t testing.TB) (sets []corpusSet, requests func(set, p string) map[string]*http.Request) {
	sets = []corpusSet{loadJSONSet(t, "queries-graphql"), loadJSONSet(t, "queries-odata")}
	return sets, func(set, p string) map[string]*http.Request {
		out := map[string]*http.Request{}
		switch set {
		case "graphql":
			b, _ := json.Marshal(map[string]any{"query": p})
			r := httptest.NewRequest("POST", "/graphql", bytes.NewReader(b))
			r.Header.Set("Content-Type", "application/json")
			out["json-body"] = r
			out["get"] = httptest.NewRequest("GET", "/graphql?query="+url.QueryEscape(p), nil)
		case "odata":
			path, query, _ := strings.Cut(p, "?")
			out["url"] = httptest.NewRequest("GET", "/odata/"+(&url.URL{Path: path}).EscapedPath()+"?"+odataQuery(query), nil)
		}
		for _, r := range out {
			r.Host = "api.example.com"
			r.Header.Set("User-Agent", browserUA)
			r.Header.Set("Accept", "application/json")
		}
		return out
	}
}

// odataQuery percent-encodes an OData query as a client does: each
// option's name and value decoded as the test case writes it, then
// encoded.
func odataQuery(q string) string {
	var parts []string
	for _, kv := range strings.Split(q, "&") {
		k, v, hasValue := strings.Cut(kv, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		if hasValue {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
		} else {
			parts = append(parts, url.QueryEscape(k))
		}
	}
	return strings.Join(parts, "&")
}

func sampled(n uint32, parts ...string) bool {
	if *corpusFull && *corpusSample == 0 || n <= 1 {
		return true
	}
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum32()%n == 0
}

// cell is one class × place result.
type cell = rate

// corpusResult is detection per class and place, and false positives per
// benign set and place.
type corpusResult struct {
	det    map[string]map[string]cell
	fp     map[string]map[string]cell
	misses []string
}

// runCorpus sends the corpora through inspect. Attack payloads go in every
// place and encoding (1 in attackSample of them outside -waf.corpus-full);
// benign values go plain into the free-text places (json, form, query,
// multipart and, URL-encoded, multipart again) and user agents into the
// User-Agent header.
func runCorpus(t testing.TB, inspect inspector, attackSample, benignSample uint32) corpusResult {
	res := corpusResult{det: map[string]map[string]cell{}, fp: map[string]map[string]cell{}}
	add := func(m map[string]map[string]cell, k1, k2 string, hit bool) {
		if m[k1] == nil {
			m[k1] = map[string]cell{}
		}
		c := m[k1][k2]
		c.total++
		if hit {
			c.hit++
		}
		m[k1][k2] = c
	}
	// Every case first, then all of them through inspect on every CPU.
	type job struct {
		attack     bool
		set, place string
		what       string
		r          *http.Request
	}
	var jobs []job
	for _, set := range attackSets(t) {
		for _, p := range set.payloads {
			for _, enc := range encodings {
				v, ok := encode(enc, p)
				if !ok {
					continue
				}
				for _, place := range corpusPlaces {
					if enc == "base64-space" && place != "query" && place != "form" {
						continue // only form-style decoding turns '+' into ' '
					}
					if !sampled(attackSample, set.class, p, enc, place) {
						continue
					}
					r, ok := corpusRequest(place, v)
					if !ok {
						continue
					}
					jobs = append(jobs, job{true, set.class, place, fmt.Sprintf("miss %s/%s/%s: %.120q", set.class, place, enc, p), r})
				}
			}
		}
	}
	for _, set := range benignSets(t) {
		for _, p := range set.payloads {
			places := []string{"json", "form", "query", "multipart", "multipart-urlencoded", "json-html-escaped"}
			if set.class == "user-agents" {
				places = []string{"user-agent"}
			}
			for _, place := range places {
				if !sampled(benignSample, set.class, p, place) {
					continue
				}
				var r *http.Request
				switch place {
				case "multipart-urlencoded":
					r, _ = corpusRequest("multipart", url.QueryEscape(p))
				case "json-html-escaped":
					// Text an application stored HTML-escaped and sends
					// on ("it&#39;s", "&lt;nick&gt;"); only where escaping
					// changes it.
					e := html.EscapeString(p)
					if e == p {
						continue
					}
					r, _ = corpusRequest("json", e)
				case "user-agent":
					r, _ = corpusRequest("query", "ok")
					r.Header.Set("User-Agent", p)
				default:
					r, _ = corpusRequest(place, p)
				}
				jobs = append(jobs, job{false, set.class, place, fmt.Sprintf("false positive %s/%s: %.120q", set.class, place, p), r})
			}
		}
	}
	qsets, queryRequests := apiQueries(t)
	for _, set := range qsets {
		for _, p := range set.payloads {
			if !sampled(benignSample, set.class, p) {
				continue
			}
			for place, r := range queryRequests(set.class, p) {
				jobs = append(jobs, job{false, set.class, place, fmt.Sprintf("false positive %s/%s: %.160q", set.class, place, p), r})
			}
		}
	}
	for _, schema := range loadJSONSet(t, "benign-json-schemas").payloads {
		// A JSON Schema as a body of its own (a schema registry, a form
		// builder) and as an LLM tool definition's parameters.
		for place, body := range map[string]string{
			"body": schema,
			"tool": `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":` + schema + `}}]}`,
		} {
			if !sampled(benignSample, "json-schemas", place, schema) {
				continue
			}
			r := httptest.NewRequest("POST", "/api/items", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("User-Agent", browserUA)
			r.Host = "api.example.com"
			jobs = append(jobs, job{false, "json-schemas", place, fmt.Sprintf("false positive json-schema %s: %.160q", place, schema), r})
		}
	}
	for _, doc := range apiBodies(t) {
		if !sampled(benignSample, "api", doc.name, doc.body) {
			continue
		}
		r := httptest.NewRequest("POST", "/api/items", strings.NewReader(doc.body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("User-Agent", browserUA)
		r.Host = "api.example.com"
		jobs = append(jobs, job{false, "api-bodies", doc.name, fmt.Sprintf("false positive api-body %s: %.160q", doc.name, doc.body), r})
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan job)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				blocked, rules := inspect(j.r)
				mu.Lock()
				if j.attack {
					add(res.det, j.set, j.place, blocked)
					if !blocked {
						res.misses = append(res.misses, j.what)
					}
				} else {
					add(res.fp, j.set, j.place, blocked)
					if blocked {
						res.misses = append(res.misses, fmt.Sprintf("%s %v", j.what, rules))
					}
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	return res
}

// renderCorpus prints the tables as markdown: detection per attack class
// and place, false positives per benign set and place.
func renderCorpus(title string, res corpusResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s: attacks detected\n\n| class | %s | all places |\n|---|%s---|\n", title, strings.Join(corpusPlaces, " | "), strings.Repeat("---|", len(corpusPlaces)))
	classes := sortedKeys(res.det)
	var all cell
	cols := map[string]cell{}
	for _, c := range classes {
		fmt.Fprintf(&b, "| %s |", c)
		var row cell
		for _, p := range corpusPlaces {
			r := res.det[c][p]
			if r.total == 0 {
				b.WriteString(" – |")
				continue
			}
			fmt.Fprintf(&b, " %.1f%% |", 100*r.frac())
			row.hit += r.hit
			row.total += r.total
			col := cols[p]
			col.hit += r.hit
			col.total += r.total
			cols[p] = col
		}
		all.hit += row.hit
		all.total += row.total
		fmt.Fprintf(&b, " %s |\n", row)
	}
	b.WriteString("| **all classes** |")
	for _, p := range corpusPlaces {
		fmt.Fprintf(&b, " %.1f%% |", 100*cols[p].frac())
	}
	fmt.Fprintf(&b, " %s |\n\n", all)
	fmt.Fprintf(&b, "### %s: benign requests blocked\n\n| set | place | blocked |\n|---|---|---|\n", title)
	var fall cell
	for _, s := range sortedKeys(res.fp) {
		for _, p := range sortedKeys2(res.fp[s]) {
			r := res.fp[s][p]
			fall.hit += r.hit
			fall.total += r.total
			fmt.Fprintf(&b, "| %s | %s | %s |\n", s, p, r)
		}
	}
	fmt.Fprintf(&b, "| **all benign** | | %s |\n", fall)
	return b.String()
}

func sortedKeys(m map[string]map[string]cell) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys2(m map[string]cell) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
