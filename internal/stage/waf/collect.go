package waf

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"

	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/urlquery"
)

// crsFS holds the embedded OWASP CRS v4 and Coraza's recommended setup.
var crsFS = coreruleset.FS

// scannerNames returns CRS's list of security-scanner user agents (lower
// case), so that a user agent made only of harmless characters still goes
// to Coraza when it names a scanner (rule 913100).
func scannerNames() []string {
	b, err := coreruleset.FS.Open("@owasp_crs/scanners-user-agents.data")
	if err != nil {
		return nil
	}
	defer b.Close()
	var out []string
	sc := bufio.NewScanner(b)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		out = append(out, strings.ToLower(l))
	}
	return out
}

// ignoredHeaders are request headers whose syntax is fixed by HTTP and that
// applications do not interpret as data, or that carry credentials that
// other stages check (inspecting a bearer token only produces false
// positives and puts a secret in a log). Lower case.
var ignoredHeaders = []string{
	"accept", "accept-encoding", "accept-language", "accept-charset", "connection",
	"content-length", "authorization", "proxy-authorization", "cache-control", "pragma",
	"if-none-match", "if-match", "if-modified-since", "if-unmodified-since", "if-range",
	"upgrade-insecure-requests", "dnt", "te", "keep-alive", "x-request-id", "traceparent",
	"tracestate", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port",
	"forwarded", "x-real-ip", "sec-fetch-dest", "sec-fetch-mode", "sec-fetch-site", "sec-fetch-user",
	"sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "priority", "x-api-key", "range",
	"content-encoding", "expect", "upgrade",
}

// maxRawBody is the most bytes of a body with an unknown content type that
// is inspected as one text value.
const maxRawBody = 64 << 10

// collection is the Coraza collection a value is added to.
type collection byte

const (
	collGet collection = iota
	collPost
	collPath
)

type arg struct {
	coll collection
	key  string
	v    string
	// regex: v is (a decoding of) a schema's regular expression that
	// parses as one (keepRegexMatch).
	regex bool
}

// inspection is the state of inspecting one request.
type inspection struct {
	s          *Stage
	x          *pipeline.Exchange
	hits       []hit
	args       []arg
	headers    [][2]string
	argLoc     map[string]string // Coraza ARGS key → location
	raw        map[string]string // location → first raw value (for excerpts)
	needCoraza bool
	// jsonBody: the body is JSON, whose strings are \u-escaped by design
	// (see runCoraza, CRS 920540).
	jsonBody bool
	// graphQLBody: the body is application/graphql (see graphQLPlace).
	graphQLBody bool
	denied      bool
	deniedBy    string
	parseErr    string
	parseLoc    string
	variants    []string
	// crsSeen remembers whether the last values check read hold a CRS
	// phrase (the bit of valueSet's walk), so that anyCRSPhrase does not
	// walk them again; an entry only says what crsPhrase would, so a miss
	// or an old entry is never wrong.
	crsSeen [4]crsSeen
	crsNext int
	// regexLocs are the locations of a JSON body whose strings are a
	// schema's regular expressions (schemaRegex, markRegex); regexNames
	// the Coraza argument names holding one, masked.
	regexLocs  map[string]bool
	regexNames map[string]string
	// corazaBytes counts what is given to Coraza; past
	// Config.MaxInspectBytes the request is refused.
	corazaBytes    int
	headerBytes    int // the part of corazaBytes from headers and cookies
	budgetExceeded bool
	budgetLoc      string
	charged        int64 // KiB charged against the client budget
}

// allProse reports whether v is prose, or an encoding of prose: every
// decoded form is prose, so what the upstream reads, however many times it
// decodes, is prose. (URL-encoded text in a multipart field decodes to the
// text, never to something the CRS should see.)
func (in *inspection) allProse(v string) bool {
	if len(in.variants) == 0 {
		return prose(v)
	}
	for _, d := range in.variants {
		if !prose(d) {
			return false
		}
	}
	return true
}

// anyCRSPhrase reports whether v or a decoding of it holds a phrase of
// the CRS's data files (see crsPhrase).
func (in *inspection) anyCRSPhrase(v string) bool {
	if in.crsPhraseOf(v) {
		return true
	}
	for _, d := range in.variants {
		if in.crsPhraseOf(d) {
			return true
		}
	}
	return false
}

// crsSeen is what one value's valueSet walk said of CRS phrases.
type crsSeen struct {
	v   string
	hit bool
}

// crsPhraseOf is crsPhrase(v), from check's walk when v was one of the
// last values it read.
func (in *inspection) crsPhraseOf(v string) bool {
	for _, e := range in.crsSeen {
		if e.v == v {
			return e.hit // (the zero entry: crsPhrase("") is false)
		}
	}
	return crsPhrase(v)
}

// keepRaw keeps v as the raw value of loc, for the excerpt of a detection
// there, unless loc has one already: values that neither a detector
// matched nor go to Coraza are never excerpted, and most requests keep
// nothing (no map is made).
func (in *inspection) keepRaw(loc, v string) {
	if in.raw == nil {
		in.raw = make(map[string]string)
	}
	if _, ok := in.raw[loc]; !ok {
		in.raw[loc] = v
	}
}

// rawValue is the raw value kept for loc; a header's is the first value
// given to Coraza under its name (headers go to Coraza whole).
func (in *inspection) rawValue(loc string) string {
	if v, ok := in.raw[loc]; ok {
		return v
	}
	if name, ok := strings.CutPrefix(loc, "header:"); ok {
		for _, h := range in.headers {
			if strings.EqualFold(h[0], name) {
				return h[1]
			}
		}
	}
	return ""
}

// maxHeaderInspect is the most header and cookie text of one request that
// goes to the CRS (part of Config.MaxInspectBytes): headers carry tokens,
// ids and short flags, not free text, and a request of many headers of
// punctuation is the cheapest way to buy CPU (issue 11, finding 5).
const maxHeaderInspect = 4 << 10

// ownScore is the score of the built-in and libinjection hits so far.
func (in *inspection) ownScore() int {
	n := 0
	for _, h := range in.hits {
		if !in.s.removed[h.rule] && !in.excluded(h) {
			n += h.score
		}
	}
	return n
}

// value inspects one value at loc: built-in detectors and libinjection
// on the value and its decodings, and, unless every form is inert, the
// value and its decodings as a Coraza argument named key.
func (in *inspection) value(coll collection, key, loc, v string, header bool) {
	if v == "" || in.budgetExceeded {
		return // once refused, nothing more is worth reading
	}
	raw, hits := v, len(in.hits)
	v = fold(v)
	if junk(v) {
		// Refused on shape, before any detector reads it: what it would
		// cost them is the attack (issue 11, finding 5).
		in.keepRaw(loc, raw)
		in.hits = append(in.hits, hit{rule: RuleJunk, loc: loc, score: builtinScore, tags: []string{"attack-protocol"}})
		return
	}
	if !header && in.graphQLPlace(loc) {
		if lits, ok := graphQLStrings(v); ok {
			// A GraphQL document where GraphQL over HTTP puts one: its
			// literals are what the client chose (see graphQLStrings).
			in.values(coll, key, loc, lits)
			return
		}
	}
	in.variants = Variants(in.variants[:0], v, false)
	// The value as sent is read with its HTML character references as
	// the text they stand for (refsAsText), by every detector and by
	// Coraza: read as written, "it&#39;s" and "&lt;nick&gt; yum" are a
	// MySQL comment, a stacked query and a command after ';'.
	rv, _ := refsAsText(v)
	in.check(loc, rv, header)
	for _, d := range in.variants {
		if d != rv {
			in.check(loc, d, header)
		}
	}
	rx := in.regexLocs[loc] && isRegex(v)
	if rx && len(in.hits) > hits {
		in.regexHits(hits, loc, v, header)
	}
	if len(in.hits) > hits {
		in.keepRaw(loc, raw)
	}
	if header {
		return // headers go to Coraza as headers (see collectHeaders)
	}
	if !in.s.feedAll && (len(in.variants) == 0 && inert(v) || in.s.lv.prose && in.allProse(v)) && !in.anyCRSPhrase(v) {
		return
	}
	in.keepRaw(loc, raw)
	n := len(v)
	for _, d := range in.variants {
		n += len(d)
	}
	in.corazaBytes += n
	if strings.HasPrefix(loc, "header:") || strings.HasPrefix(loc, "cookie:") {
		in.headerBytes += n
	}
	if max := in.s.cfg.maxInspect(); max > 0 && (in.corazaBytes > max || in.headerBytes > maxHeaderInspect) && !in.budgetExceeded {
		in.budgetExceeded, in.budgetLoc = true, loc
	}
	in.needCoraza = true
	if in.argLoc == nil {
		in.argLoc = make(map[string]string)
	}
	in.argLoc[key] = loc
	in.args = append(in.args, arg{coll, key, in.forCRS(rv), rx})
	for _, d := range in.variants {
		if d != rv {
			in.args = append(in.args, arg{coll, key, in.forCRS(d), rx})
		}
	}
}

// forCRS is v as the CRS gets it: with the characters it would read as
// their code point's low byte neutral (see lowByteNeutral), unless custom
// rules read the values too.
func (in *inspection) forCRS(v string) string {
	if in.s.feedAll {
		return v
	}
	return lowByteNeutral(v)
}

// values inspects each of vs as a value at loc: the literals of a query
// language read in its own grammar (GraphQL, OData).
func (in *inspection) values(coll collection, key, loc string, vs []string) {
	for _, v := range vs {
		in.value(coll, key, loc, v, false)
	}
}

// name inspects a parameter or key name. A name is as much attacker
// input as a value (frameworks build queries, templates and file names
// from names too), so it goes through the same detectors and decodings,
// and to Coraza as a value of its own besides ARGS_NAMES.
func (in *inspection) name(coll collection, loc, n string) {
	if n == "$comment" {
		// JSON Schema's annotation keyword, in every schema-bearing
		// body (LLM tool definitions among them). As a name alone it
		// is MongoDB's $comment, which only labels a query; in a value
		// ("' } ], $comment:'…'") it is still read as an operator.
		return
	}
	for _, r := range detectName(n) {
		in.keepRaw(loc, n)
		in.hits = append(in.hits, hit{rule: r, loc: loc, score: builtinScore, tags: builtinTags[r]})
	}
	if n == "" {
		return
	}
	if plainWord(n) {
		// A name of letters and digits can still be base64 (unpadded
		// base64 is letters and digits): it gets the decoders values get.
		if _, ok := Base64Text(n); !ok {
			return
		}
	}
	in.value(coll, "name:"+n, loc, n, false)
}

func (in *inspection) check(loc, v string, header bool) {
	if plainWord(v) {
		return
	}
	// One walk gives the detectors' gates, the CRS-phrase test that
	// value asks of the same string next (valueSet) and its bytes.
	m, cs := valueSet.marksAndBytes(v)
	in.crsSeen[in.crsNext] = crsSeen{v: v, hit: m&gateCRSPhrase != 0}
	in.crsNext = (in.crsNext + 1) % len(in.crsSeen)
	g := m &^ gateCRSPhrase
	for _, r := range detectString(v, header, g, cs) {
		in.hits = append(in.hits, hit{rule: r, loc: loc, score: builtinScore, tags: builtinTags[r]})
	}
	in.libinjectionCheck(loc, v, g, &cs)
}

// collect walks every part of the request.
func (in *inspection) collect() error {
	x, r := in.x, in.x.Request
	// Path segments. The gateway has already refused malformed and
	// traversing paths (limits); what is left is inspected segment by
	// segment after decoding.
	typedSeg := map[string]bool{}
	segLoc := map[string]string{}
	for name, val := range x.PathParams {
		loc := "path:" + name
		if x.Proven.Has(loc) || in.skipped(loc) {
			typedSeg[val] = true
		} else {
			segLoc[val] = loc
		}
	}
	for i, seg := range strings.Split(r.URL.EscapedPath(), "/") {
		if seg == "" {
			continue
		}
		dec, err := url.PathUnescape(seg)
		if err != nil {
			dec = seg
		}
		if typedSeg[dec] {
			continue
		}
		loc := segLoc[dec]
		if loc == "" {
			loc = "path"
			if in.skipped(loc) {
				continue
			}
		}
		if lits, ok := odataSegment(dec); ok {
			in.values(collPath, "path."+strconv.Itoa(i), loc, lits)
			continue
		}
		in.value(collPath, "path."+strconv.Itoa(i), loc, dec, false)
	}
	// Restricted files span segments: the whole path goes to the CRS
	// when it names one (CRS 930130, 930140).
	if p := r.URL.Path; !in.needCoraza && pathPhrase(p) && !in.skipped("path") {
		in.needCoraza = true
	}
	// Query parameters: names and values.
	if r.URL.RawQuery != "" {
		for _, p := range ParseQuery(r.URL.RawQuery) {
			loc := "query:" + p[0]
			if x.Proven.Has(loc) || in.skipped(loc) {
				continue
			}
			if opt, ok := odataOption(p[0]); ok {
				// An OData system query option: its name is the
				// protocol's, its expression's literals are the
				// client's (see odataStrings).
				if odataExprOption(opt) {
					if lits, ok := odataStrings(p[1]); ok {
						in.values(collGet, "odata."+opt, loc, lits)
						continue
					}
				}
				in.value(collGet, "odata."+opt, loc, p[1], false)
				continue
			}
			in.name(collGet, loc, p[0])
			in.value(collGet, p[0], loc, p[1], false)
		}
	}
	in.collectHeaders()
	return in.collectBody()
}

func (in *inspection) collectHeaders() {
	x, r := in.x, in.x.Request
	if r.Host != "" {
		in.headers = append(in.headers, [2]string{"Host", r.Host})
		if !validHost(r.Host) {
			in.needCoraza = true
		}
	}
	for name, vs := range r.Header {
		ln := strings.ToLower(name)
		if in.s.ignoreH[ln] {
			continue
		}
		if ln == "cookie" {
			in.collectCookies()
			continue
		}
		loc := "header:" + ln
		if x.Proven.Has(loc) || in.skipped(loc) {
			continue
		}
		if scannerHeaders[ln] {
			in.keepRaw(loc, name)
			in.hits = append(in.hits, hit{rule: RuleScanner, loc: loc, score: builtinScore})
		}
		for _, v := range vs {
			if in.budgetExceeded {
				return
			}
			// A scanner names itself in its User-Agent (or sends a header
			// of its own, scannerHeaders); a tool's name in another header
			// is somebody's URL or host ("Referer: https://github.com/ory/hydra",
			// the Origin of a Medusa store). An out-of-band interaction
			// domain is a probe in any header.
			if ln == "user-agent" && scannerValue(v) || oobDomain(v) {
				in.keepRaw(loc, v)
				in.hits = append(in.hits, hit{rule: RuleScanner, loc: loc, score: builtinScore})
			}
			in.headers = append(in.headers, [2]string{name, v})
			switch ln {
			case "content-type":
				if _, _, err := mime.ParseMediaType(v); err != nil || !inertContentType(v) {
					in.needCoraza = true
				}
				continue
			case "user-agent":
				in.userAgent(loc, v)
				if !in.inertUA(v) {
					// Not a browser's or a library's: quotes, '$', '<',
					// braces (PHP or a template for a log to run, a
					// JNDI lookup). Most CRS attack rules read ARGS only,
					// so it is an argument too, as an application header is.
					in.value(collGet, "header."+ln, loc, v, false)
					in.needCoraza = true
				}
				continue
			case "referer", "origin":
				in.value(collGet, "", loc, v, true)
				if !inert(v) {
					in.needCoraza = true
				}
				continue
			case "x-filename", "x_filename", "x.filename", "x-file-name":
				in.upload(loc, v)
			}
			// An application-specific header is a parameter: it is also
			// given to Coraza as an argument, because most CRS attack rules
			// look at ARGS and only a few at REQUEST_HEADERS.
			in.value(collGet, "header."+ln, loc, v, false)
			if fv := fold(v); !junk(fv) {
				in.check(loc, fv, true) // raw line breaks in a header value
			}
		}
	}
}

func (in *inspection) collectCookies() {
	x, r := in.x, in.x.Request
	for _, c := range ParseCookies(r.Header.Values("Cookie")) {
		loc := "cookie:" + c[0]
		if x.Proven.Has(loc) || in.skipped(loc) {
			continue
		}
		in.name(collGet, loc, c[0])
		// Cookie values are form-encoded by most frameworks.
		in.value(collGet, "cookie."+c[0], loc, unescapeQuery(c[1]), false)
	}
}

// collectBody parses the body by its declared content type.
func (in *inspection) collectBody() error {
	r := in.x.Request
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return nil
	}
	body, err := in.x.Body()
	if err != nil {
		if errors.Is(err, pipeline.ErrBodyTooLarge) {
			in.parseErr, in.parseLoc = "body too large to inspect", "body"
			return nil
		}
		return err
	}
	if len(body) == 0 {
		return nil
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mt = ""
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		in.collectJSON(body)
	case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
		in.collectXML(body)
	case mt == "application/x-www-form-urlencoded":
		in.collectForm(body)
	case mt == "multipart/form-data":
		in.collectMultipart(body, params["boundary"])
	default:
		in.graphQLBody = mt == "application/graphql"
		if len(body) <= maxRawBody && utf8.Valid(body) {
			loc := "body"
			if !in.x.Proven.Has(loc) && !in.skipped(loc) {
				in.value(collPost, "body", loc, string(body), false)
			}
		}
	}
	return nil
}

func (in *inspection) collectJSON(body []byte) {
	in.jsonBody = true
	err := WalkJSON(body, func(ptr []byte, s string, key bool) {
		loc := "body:" + string(ptr)
		if in.x.Proven.Has(loc) || in.skipped(loc) {
			return
		}
		in.markRegex(ptr, s, key)
		if key {
			in.name(collPost, loc, s)
			if s == "prototype" && bytes.HasSuffix(ptr, []byte("/constructor/prototype")) {
				// {"constructor": {"prototype": …}}: what a deep merge
				// follows to the prototype (see constructorPrototype).
				in.keepRaw(loc, s)
				in.hits = append(in.hits, hit{rule: RulePrototype, loc: loc, score: builtinScore, tags: builtinTags[RulePrototype]})
			}
			return
		}
		in.value(collPost, argKey(ptr), loc, s, false)
	})
	if err != nil {
		in.parseErr, in.parseLoc = redactParseErr(err), "body"
	}
}

// ParseCookies splits Cookie header values into (name, value) pairs.
// It is lenient on purpose: net/http drops cookies whose value has
// characters RFC 6265 forbids, but many application frameworks read them,
// so a strict parser would let an attacker hide a payload from inspection.
func ParseCookies(headers []string) [][2]string {
	var out [][2]string
	for _, h := range headers {
		for h != "" {
			var part string
			part, h, _ = strings.Cut(h, ";")
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, v, _ := strings.Cut(part, "=")
			n = strings.TrimSpace(n)
			v = strings.Trim(strings.TrimSpace(v), `"`)
			if n == "" {
				continue
			}
			out = append(out, [2]string{n, v})
		}
	}
	return out
}

// ParseQuery splits a query string or form body into (name, value) pairs
// in order. Unlike url.ParseQuery it never drops a pair: a ';' is data
// (Go's parser skips such pairs, which would let an attacker hide a value
// from inspection that a lenient upstream still reads) and an invalid
// escape is kept as written.
func ParseQuery(q string) [][2]string {
	var out [][2]string
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if pair == "" {
			continue
		}
		n, v, _ := strings.Cut(pair, "=")
		out = append(out, [2]string{unescapeQuery(n), unescapeQuery(v)})
	}
	return out
}

func unescapeQuery(s string) string {
	u, err := urlquery.Unescape(s)
	if err != nil {
		u, _ = URLDecode(strings.ReplaceAll(s, "+", " "))
	}
	return u
}

// argKey names a body value for Coraza the way Coraza's own JSON body
// processor does ("json.items.0.name"), so that CRS rules on ARGS_NAMES see
// what they were written for.
func argKey(ptr []byte) string {
	b := make([]byte, 0, len(ptr)+4)
	b = append(b, "json"...)
	for _, c := range ptr {
		if c == '/' {
			c = '.'
		}
		b = append(b, c)
	}
	return string(b)
}

func (in *inspection) collectForm(body []byte) {
	if !utf8.Valid(body) {
		in.parseErr, in.parseLoc = "form body is not valid UTF-8", "body"
		return
	}
	for _, p := range ParseQuery(string(body)) {
		n, vs := p[0], p[1:]
		loc := "body:/" + escapePointer(n)
		if in.x.Proven.Has(loc) || in.skipped(loc) {
			continue
		}
		if !utf8.ValidString(n) {
			in.parseErr, in.parseLoc = "form field is not valid UTF-8", "body"
			return
		}
		in.name(collPost, loc, n)
		for _, v := range vs {
			if !utf8.ValidString(v) {
				in.parseErr, in.parseLoc = "form field is not valid UTF-8", loc
				return
			}
			in.value(collPost, n, loc, v, false)
		}
	}
}

// maxPartBytes bounds what one multipart field contributes.
const maxPartBytes = 1 << 20

func (in *inspection) collectMultipart(body []byte, boundary string) {
	if boundary == "" {
		in.parseErr, in.parseLoc = "multipart body without a boundary", "body"
		return
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			in.parseErr, in.parseLoc = "multipart body does not parse", "body"
			return
		}
		name := p.FormName()
		loc := "body:/" + escapePointer(name)
		data, err := io.ReadAll(io.LimitReader(p, maxPartBytes))
		if err != nil {
			in.parseErr, in.parseLoc = "multipart body is truncated", loc
			return
		}
		if in.x.Proven.Has(loc) || in.skipped(loc) {
			continue
		}
		in.name(collPost, loc, name)
		if fn := p.FileName(); fn != "" {
			in.value(collPost, name+".filename", loc+"/filename", fn, false)
			in.upload(loc+"/filename", fn)
			continue // file contents are data, not parameters
		}
		if !utf8.Valid(data) {
			in.parseErr, in.parseLoc = "multipart field is not valid UTF-8", loc
			return
		}
		in.value(collPost, name, loc, string(data), false)
	}
}

// collectXML gives every text node and attribute value to the detectors.
// Coraza gets each value under a name of its own that says nothing of the
// document's structure ("xml1", "xml2", …; the location keeps the path):
// element and attribute names are the schema's, not values, and rules
// that read ARGS_NAMES would otherwise judge them, e.g. 941130 matches
// every namespace declaration ("xmlns:soap") of a SOAP envelope and every
// "xlink:href" of an SVG. The CRS's own XML processing (XML:/*) does not
// give them to those rules either.
func (in *inspection) collectXML(body []byte) {
	n := 0
	err := WalkXML(body, func(ptr, s string) {
		loc := "body:" + ptr
		if in.x.Proven.Has(loc) || in.skipped(loc) {
			return
		}
		n++
		in.value(collPost, "xml"+strconv.Itoa(n), loc, s, false)
	})
	switch {
	case errors.Is(err, ErrXXE):
		in.keepRaw("body", string(body))
		in.hits = append(in.hits, hit{rule: RuleXXE, loc: "body", score: builtinScore})
	case err != nil:
		in.parseErr, in.parseLoc = redactParseErr(err), "body"
	}
}

func redactParseErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// inertUA reports whether a User-Agent is an ordinary product list that
// names no known scanner.
func (in *inspection) inertUA(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte(" ()/;,_:+-", c) >= 0:
		case c == '.':
			if i+1 < len(v) && v[i+1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	return !in.s.scanners.in(v)
}

// upload records a hit when an uploaded file's name (a multipart part's
// filename, an X-Filename header) makes a server run the file or names a
// PHP session file (see uploadName).
func (in *inspection) upload(loc, name string) {
	n := strings.ToLower(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, name))
	if strings.IndexByte(n, '.') < 0 && !strings.Contains(n, "sess_") || !uploadName.MatchString(n) {
		return
	}
	in.keepRaw(loc, name)
	in.hits = append(in.hits, hit{rule: RuleUpload, loc: loc, score: builtinScore, tags: builtinTags[RuleUpload]})
}

func inertContentType(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(" /;=+.-_", c) >= 0) {
			return false
		}
	}
	return true
}

func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-:[]", c) >= 0) {
			return false
		}
	}
	return true
}

// runCoraza evaluates the CRS over a transaction filled with what collect
// gathered and records its matches as hits.
func (in *inspection) runCoraza() error {
	x, r := in.x, in.x.Request
	tx := in.s.waf.NewTransactionWithID(x.ID)
	defer tx.Close()
	client := ""
	if x.ClientIP.IsValid() {
		client = x.ClientIP.String()
	}
	tx.ProcessConnection(client, 0, "", 0)
	tx.ProcessURI(r.URL.EscapedPath(), r.Method, r.Proto)
	for _, h := range in.headers {
		tx.AddRequestHeader(h[0], h[1])
	}
	// Protocol rules (920xxx) need the framing headers Go moved out of
	// r.Header.
	// A chunked request has no Content-Length on the wire; reading the
	// body (Exchange.Body) sets r.ContentLength, which must not make it look
	// like a request with both (a smuggling signature, CRS 920181).
	if len(r.TransferEncoding) > 0 {
		for _, te := range r.TransferEncoding {
			tx.AddRequestHeader("Transfer-Encoding", te)
		}
	} else if r.ContentLength > 0 {
		tx.AddRequestHeader("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
	if ck := r.Header.Values("Cookie"); len(ck) > 0 && !in.s.ignoreH["cookie"] {
		for _, c := range ck {
			tx.AddRequestHeader("Cookie", fold(c))
		}
	}
	for _, a := range in.args {
		switch a.coll {
		case collGet:
			tx.AddGetRequestArgument(a.key, a.v)
		case collPost:
			tx.AddPostRequestArgument(a.key, a.v)
		case collPath:
			tx.AddPathRequestArgument(a.key, a.v)
		}
	}
	it := tx.ProcessRequestHeaders()
	if it == nil {
		var err error
		if it, err = tx.ProcessRequestBody(); err != nil {
			return err
		}
	}
	for _, mr := range tx.MatchedRules() {
		md := mr.Rule()
		id := md.ID()
		if id >= 900000 && id < 911000 || id >= 949000 && id < 950000 {
			continue // setup, initialisation and scoring rules
		}
		score := crsScore(md.Severity())
		if score == 0 {
			continue
		}
		loc := ""
		if mds := mr.MatchedDatas(); len(mds) > 0 {
			loc = in.locate(mds[0].Variable().Name(), mds[0].Key())
		}
		if refine, ok := crsRefiners[id]; ok && !in.keepCRSMatch(refine, loc, mr.MatchedDatas()) {
			continue
		}
		if !in.keepRegexMatch(id, mr.MatchedDatas()) {
			continue
		}
		in.hits = append(in.hits, hit{rule: strconv.Itoa(id), tags: md.Tags(), loc: loc, score: score})
	}
	if it != nil {
		in.denied = true
		in.deniedBy = RuleCustom
		if it.RuleID != 0 {
			in.deniedBy = strconv.Itoa(it.RuleID)
		}
	}
	return nil
}

// locate maps a Coraza variable and key back to a Portcullis location.
func (in *inspection) locate(variable, key string) string {
	switch {
	case strings.HasPrefix(variable, "ARGS"):
		if l, ok := in.argLoc[key]; ok {
			return l
		}
		for k, l := range in.argLoc {
			if strings.EqualFold(k, key) {
				return l
			}
		}
		return "args:" + key
	case variable == "REQUEST_HEADERS" || variable == "REQUEST_HEADERS_NAMES":
		return "header:" + strings.ToLower(key)
	case variable == "REQUEST_COOKIES" || variable == "REQUEST_COOKIES_NAMES":
		return "cookie:" + key
	case strings.HasPrefix(variable, "REQUEST_FILENAME"), strings.HasPrefix(variable, "REQUEST_URI"),
		strings.HasPrefix(variable, "REQUEST_BASENAME"), variable == "REQUEST_LINE":
		return "path"
	}
	return strings.ToLower(variable)
}
