package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/openapi"
)

// The checks of the functional group.
var (
	checkFunctionalStatus = define(CheckInfo{ID: "functional.status", Group: "functional", OWASP: OWASPMisconfig, CWE: 394, Severity: SeverityLow,
		Title:       "Undeclared response status code",
		Remediation: "Declare every status code the operation returns, or stop returning the undeclared one."})
	checkFunctionalContentType = define(CheckInfo{ID: "functional.content-type", Group: "functional", OWASP: OWASPMisconfig, CWE: 436, Severity: SeverityLow,
		Title:       "Response content type differs from the description",
		Remediation: "Return the media type the description declares for this status (and declare the one you return)."})
	checkFunctionalSchema = define(CheckInfo{ID: "functional.schema", Group: "functional", OWASP: OWASPMisconfig, CWE: 20, Severity: SeverityLow,
		Title:       "Response body does not match its schema",
		Remediation: "Make the response match its declared schema, or fix the schema."})
	checkFunctionalServerError = define(CheckInfo{ID: "functional.server-error", Group: "functional", OWASP: OWASPMisconfig, CWE: 755, Severity: SeverityMedium,
		Title:       "Server error (5xx) on valid or mutated input",
		Remediation: "Validate input and handle errors so that bad input gets a 4xx and valid input never fails."})
	checkFunctionalNegativeAccepted = define(CheckInfo{ID: "functional.negative-accepted", Group: "functional", OWASP: OWASPMisconfig, CWE: 20, Severity: SeverityMedium,
		Title:       "Invalid input accepted",
		Remediation: "Validate requests against the description: wrong types, missing required values and out-of-range values must get a 4xx."})
)

var _ = runs("functional", runFunctional)

func runFunctional(ctx context.Context, s *scanner) {
	for _, o := range s.ops {
		s.conformance(o, o.res, "baseline")
	}
	s.eachOp(ctx, s.negative)
}

// declaredResponse finds the response declared for status: exact, then
// "4XX", then "default".
func declaredResponse(op *openapi.Operation, status int) (*openapi.Response, bool) {
	code := strconv.Itoa(status)
	if r, ok := op.Responses[code]; ok {
		return r, true
	}
	for _, k := range []string{code[:1] + "XX", code[:1] + "xx", "default"} {
		if r, ok := op.Responses[k]; ok {
			return r, true
		}
	}
	return nil, false
}

// operational are answers any API may give for reasons outside the
// description (throttling, maintenance): not reported as undeclared.
func operational(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
}

// conformance checks one answer against the description.
func (s *scanner) conformance(o *opState, res *result, how string) {
	if res == nil || res.err != nil || gatewayRefusal(res) {
		return
	}
	if res.status >= 500 && !operational(res.status) {
		s.report(checkFunctionalServerError, o, "", ConfidenceCertain, s.evidence(res, fmt.Sprintf("the %s request got %d", how, res.status)))
		return
	}
	if operational(res.status) {
		return
	}
	resp, ok := declaredResponse(o.op, res.status)
	if !ok {
		if len(o.op.Responses) > 0 {
			s.report(checkFunctionalStatus, o, "status:"+strconv.Itoa(res.status), ConfidenceCertain, s.evidence(res, fmt.Sprintf("status %d is not declared", res.status)))
		}
		return
	}
	if len(resp.Content) == 0 || len(res.body) == 0 {
		return
	}
	ct := res.contentType()
	var mt *openapi.MediaType
	for _, k := range slices.Sorted(maps.Keys(resp.Content)) {
		if mediaMatch(k, ct) {
			mt = resp.Content[k]
			break
		}
	}
	if mt == nil {
		s.report(checkFunctionalContentType, o, "status:"+strconv.Itoa(res.status), ConfidenceCertain,
			s.evidence(res, fmt.Sprintf("answered %q; declared %s", ct, strings.Join(slices.Sorted(maps.Keys(resp.Content)), ", "))))
		return
	}
	if mt.Schema != nil && isJSONType(ct) {
		v := res.json()
		if v == nil {
			s.report(checkFunctionalSchema, o, "status:"+strconv.Itoa(res.status), ConfidenceCertain, s.evidence(res, "the body is not valid JSON"))
			return
		}
		if errs := mt.Schema.Validate(v, 5); len(errs) > 0 {
			var b []string
			for _, e := range errs {
				b = append(b, strings.TrimSpace(e.Pointer+" "+e.Reason))
			}
			s.report(checkFunctionalSchema, o, "status:"+strconv.Itoa(res.status), ConfidenceCertain, s.evidence(res, strings.Join(b, "; ")))
		}
	}
}

func isJSONType(ct string) bool {
	return ct == "application/json" || strings.HasSuffix(ct, "+json")
}

// mediaMatch reports whether the declared media range covers ct.
func mediaMatch(declared, ct string) bool {
	d, _, err := mime.ParseMediaType(declared)
	if err != nil {
		d = declared
	}
	if d == ct || d == "*/*" {
		return true
	}
	ok, _ := path.Match(d, ct)
	return ok
}

// mutation is one invalid variant of a request.
type mutation struct {
	what string
	loc  location
	req  *request
}

// negative sends invalid variants of the baseline (wrong type, missing
// required, out of range, bad pattern, unknown enum value): each must get
// a 4xx. Only variants the schema itself proves invalid are sent.
func (s *scanner) negative(ctx context.Context, o *opState) {
	if !o.res.ok() {
		return
	}
	for _, m := range s.mutations(o) {
		res := s.send(ctx, m.req)
		if res.err != nil || gatewayRefusal(res) {
			continue
		}
		switch {
		case res.status >= 500 && !operational(res.status):
			s.report(checkFunctionalServerError, o, m.loc.String(), ConfidenceCertain, s.evidence(res, "mutated input ("+m.what+") got a server error"))
		case res.status/100 == 2:
			s.report(checkFunctionalNegativeAccepted, o, m.loc.String(), ConfidenceFirm, s.evidence(res, "invalid input ("+m.what+") was accepted with "+strconv.Itoa(res.status)))
		}
	}
}

func (s *scanner) mutations(o *opState) []mutation {
	var out []mutation
	add := func(what string, loc location, f func(r *request)) {
		if !s.mayGarble(o, loc) {
			return
		}
		r := o.req.clone()
		f(r)
		out = append(out, mutation{what: what, loc: loc, req: r})
	}
	for _, p := range o.op.Parameters {
		if p.Schema == nil || (p.In != "query" && p.In != "path") {
			continue
		}
		loc := location{in: p.In, name: p.Name, schema: p.Schema.Raw}
		cur := o.req.get(loc)
		if p.In == "query" {
			if _, ok := o.req.getQuery(p.Name); !ok {
				continue
			}
			if p.Required {
				add("required parameter missing", loc, func(r *request) {
					r.query = slices.DeleteFunc(r.query, func(e kv) bool { return e.k == p.Name })
				})
			}
		}
		for _, v := range invalidValues(p.Schema.Raw, cur) {
			if len(p.Schema.Validate(paramValue(p.Schema.Raw, v.val), 1)) == 0 {
				continue // not provably invalid
			}
			add(v.what, loc, func(r *request) { r.set(loc, v.val) })
		}
	}
	if o.req.body != nil && o.op.RequestBody != nil {
		mt := jsonMedia(o.op.RequestBody.Content)
		if mt != nil && mt.Schema != nil {
			if obj, ok := o.req.body.(map[string]any); ok {
				if req, ok := mt.Schema.Raw["required"].([]any); ok && len(req) > 0 {
					name, _ := req[0].(string)
					r := o.req.clone()
					delete(r.body.(map[string]any), name)
					if len(mt.Schema.Validate(toJSONValue(r.body), 1)) > 0 {
						out = append(out, mutation{what: "required property missing", loc: location{in: "body", name: "/" + escapePointer(name)}, req: r})
					}
				}
				for _, k := range slices.Sorted(maps.Keys(obj)) {
					sub, _ := openapi.PropertySchema(mt.Schema.Raw, k)
					loc := location{in: "body", name: "/" + escapePointer(k), schema: sub}
					wrong := wrongType(sub)
					if wrong == nil || !s.mayGarble(o, loc) {
						continue
					}
					r := o.req.clone()
					r.set(loc, wrong)
					if len(mt.Schema.Validate(toJSONValue(r.body), 1)) > 0 {
						out = append(out, mutation{what: "wrong type", loc: loc, req: r})
					}
				}
			}
		}
	}
	return out
}

type invalid struct {
	what string
	val  string
}

// invalidValues proposes invalid string forms for a parameter schema.
func invalidValues(sc map[string]any, cur string) []invalid {
	var out []invalid
	types := openapi.SchemaTypes(sc)
	switch {
	case slices.Contains(types, "integer") || slices.Contains(types, "number"):
		out = append(out, invalid{"wrong type", "pcscan"})
		if m, ok := num(sc["minimum"]); ok {
			out = append(out, invalid{"below minimum", strconv.FormatFloat(m-1, 'f', -1, 64)})
		}
		if m, ok := num(sc["maximum"]); ok {
			out = append(out, invalid{"above maximum", strconv.FormatFloat(m+1, 'f', -1, 64)})
		}
	case slices.Contains(types, "string"):
		if m, ok := num(sc["maxLength"]); ok && m < 4096 {
			out = append(out, invalid{"too long", strings.Repeat("a", int(m)+1)})
		}
		if _, ok := sc["enum"]; ok {
			out = append(out, invalid{"not in enum", "pcscan-invalid"})
		} else if _, ok := sc["pattern"]; ok {
			out = append(out, invalid{"pattern mismatch", "!!pcscan!!"})
		}
	}
	_ = cur
	return out
}

// paramValue turns a parameter's string form into the JSON value its
// schema validates (numbers for numeric schemas).
func paramValue(sc map[string]any, s string) any {
	types := openapi.SchemaTypes(sc)
	if slices.Contains(types, "integer") || slices.Contains(types, "number") {
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return json.Number(s)
		}
	}
	if slices.Contains(types, "boolean") && (s == "true" || s == "false") {
		return s == "true"
	}
	return s
}

// wrongType returns a value of another JSON type than the schema's.
func wrongType(sc map[string]any) any {
	types := openapi.SchemaTypes(sc)
	switch {
	case types == nil:
		return nil
	case slices.Contains(types, "string"):
		return 12345
	case slices.Contains(types, "integer"), slices.Contains(types, "number"), slices.Contains(types, "boolean"):
		return "pcscan"
	case slices.Contains(types, "array"), slices.Contains(types, "object"):
		return "pcscan"
	}
	return nil
}

// toJSONValue converts a Go value to the form Schema.Validate expects
// (numbers as json.Number).
func toJSONValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	return (&result{body: b}).json()
}
