package scan

import (
	"context"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/openapi"
)

// The checks of the property group.
var (
	checkPropertyMassAssignment = define(CheckInfo{ID: "property.mass-assignment", Group: "property", OWASP: OWASPProperty, CWE: 915, Severity: SeverityMedium,
		Title:       "Mass assignment: undeclared property accepted and persisted",
		Remediation: "Bind only the declared writable properties and refuse unknown ones."})
	checkPropertyUndeclaredFields = define(CheckInfo{ID: "property.undeclared-fields", Group: "property", OWASP: OWASPProperty, CWE: 213, Severity: SeverityMedium,
		Title:       "Excessive data exposure: response fields not in the schema",
		Remediation: "Return only the properties the response schema declares (an explicit response model)."})
	checkPropertySensitiveData = define(CheckInfo{ID: "property.sensitive-data", Group: "property", OWASP: OWASPProperty, CWE: 200, Severity: SeverityHigh,
		Title:       "Sensitive data in a response (password, hash, token, SSN, card number)",
		Remediation: "Never return secrets, hashes or personal identifiers; mask card numbers."})
)

var _ = runs("property", runProperty)

var (
	// alwaysSensitive are members no response should carry, declared or not.
	alwaysSensitive = regexp.MustCompile(`(?i)^(password|passwd|pwd|password_?hash|pass_?hash|hash|hashed_?password|salt|ssn|social_?security(_number)?|card_?number|cc_?number|credit_?card(_number)?|cvv|cvc|pan)$`)
	// undeclaredSensitive are members that are fine when the description
	// declares them (a login answer's token) and a leak when it does not.
	undeclaredSensitive = regexp.MustCompile(`(?i)^(.*_?secret|secret|.*_?token|token|api_?key|private_?key|session_?id)$`)
	ssnValue            = regexp.MustCompile(`^\d{3}-\d{2}-\d{4}$`)
	cardValue           = regexp.MustCompile(`^\d{13,19}$`)
)

func runProperty(ctx context.Context, s *scanner) {
	for _, o := range s.ops {
		s.exposure(o, o.res)
	}
	s.writeCheck(ctx, checkPropertyMassAssignment, false)
	s.discoveredReads(ctx)
}

// discoveredReads asks each read with one path parameter for the other
// objects the API's answers point at (the authors named in a list of
// articles, for GET /profiles/{username}), a few of each, and looks at
// what they expose: a tester reads the objects an API links to, not only
// the one it made up or created.
func (s *scanner) discoveredReads(ctx context.Context) {
	const perOperation = 6
	// Lists asked without their optional query parameters first: the
	// baseline's made-up filters (?author=pcscan) find nothing to point at.
	for _, o := range s.ops {
		if o.op.Method != http.MethodGet || o.req.ident < 0 || strings.Contains(o.op.Path, "{") || len(o.req.query) == 0 {
			continue
		}
		r := o.req.clone()
		r.query = nil
		for _, p := range o.op.Parameters {
			if v, ok := o.req.getQuery(p.Name); ok && p.In == "query" && p.Required {
				r.query = append(r.query, kv{p.Name, v})
			}
		}
		if res := s.send(ctx, r); res.ok() {
			s.values.observe(o.op, res.status, res.json())
		}
	}
	for _, o := range s.ops {
		if o.op.Method != http.MethodGet || o.req.ident < 0 || len(o.req.path) != 1 {
			continue
		}
		for name, cur := range o.req.path {
			n := 0
			for _, v := range s.values.seenValues(name) {
				if v == cur || n >= perOperation || s.exhausted.Load() || strings.HasPrefix(v, "pcscan") || strings.HasPrefix(v, "pcx") {
					continue
				}
				n++
				r := o.req.clone()
				r.path[name] = v
				s.exposure(o, s.send(ctx, r))
			}
		}
	}
}

// responseSchema returns the raw JSON schema declared for an answer.
func responseSchema(o *opState, res *result) map[string]any {
	r, ok := declaredResponse(o.op, res.status)
	if !ok {
		return nil
	}
	if mt := jsonMedia(r.Content); mt != nil && mt.Schema != nil {
		return mt.Schema.Raw
	}
	return nil
}

// exposure looks at a 2xx JSON answer for sensitive members and members
// the schema does not declare.
func (s *scanner) exposure(o *opState, res *result) {
	if !res.ok() || !isJSONType(res.contentType()) {
		return
	}
	sc := responseSchema(o, res)
	var sensitive, undeclared []string
	var walk func(v any, sc map[string]any, ptr string, depth int)
	walk = func(v any, sc map[string]any, ptr string, depth int) {
		if depth > 6 {
			return
		}
		switch x := v.(type) {
		case []any:
			for i, e := range x {
				if i >= 3 {
					break
				}
				walk(e, openapi.ItemsSchema(sc), ptr+"/"+strconv.Itoa(i), depth+1)
			}
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				sub, declared := openapi.PropertySchema(sc, k)
				p := ptr + "/" + escapePointer(k)
				switch {
				case !present(x[k]):
					// A member named like a secret that holds nothing (null,
					// "", a mask) exposes nothing.
				case alwaysSensitive.MatchString(k):
					sensitive = append(sensitive, p)
				case undeclaredSensitive.MatchString(k) && !declared:
					sensitive = append(sensitive, p)
				case isSensitiveValue(x[k]):
					sensitive = append(sensitive, p)
				}
				if sc != nil && !declared && hasProperties(sc) && !openAdditional(sc) {
					undeclared = append(undeclared, p)
				}
				walk(x[k], sub, p, depth+1)
			}
		}
	}
	walk(res.json(), sc, "", 0)
	if len(sensitive) > 0 {
		s.report(checkPropertySensitiveData, o, "response", ConfidenceFirm, s.evidence(res, "sensitive members: "+strings.Join(dedupe(sensitive), ", ")))
	}
	if len(undeclared) > 0 {
		s.report(checkPropertyUndeclaredFields, o, "response", ConfidenceFirm, s.evidence(res, "members not in the response schema: "+strings.Join(dedupe(undeclared), ", ")))
	}
}

// present reports whether a member holds a value worth hiding: not null,
// not empty, not a mask ("****", "xxxx").
func present(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return strings.Trim(x, "*xX•#. -") != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

func dedupe(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

func isSensitiveValue(v any) bool {
	str, ok := v.(string)
	if !ok {
		return false
	}
	if ssnValue.MatchString(str) {
		return true
	}
	return cardValue.MatchString(str) && luhn(str)
}

func luhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func hasProperties(sc map[string]any) bool {
	return openapi.SchemaTypes(sc) != nil && slices.Contains(openapi.SchemaTypes(sc), "object") && (sc["properties"] != nil || sc["allOf"] != nil)
}

// openAdditional reports whether the schema explicitly allows undeclared
// members (additionalProperties: true or a schema).
func openAdditional(sc map[string]any) bool {
	switch a := sc["additionalProperties"].(type) {
	case bool:
		return a
	case map[string]any:
		return true
	}
	return false
}
