package authz

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// operation is a parsed "METHOD /path/{param}" key.
type operation struct {
	key    string // canonical "GET /users/{id}"
	method string
	segs   []string // path segments; "{name}" for a parameter
	params []string
}

var methods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true, http.MethodTrace: true,
}

// parseOperation parses an operation key such as "GET /users/{id}".
func parseOperation(s string) (operation, error) {
	method, path, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return operation{}, fmt.Errorf("operation %q: expected METHOD /path, such as \"GET /users/{id}\"", s)
	}
	method = strings.ToUpper(method)
	if !methods[method] {
		return operation{}, fmt.Errorf("operation %q: unknown method %q", s, method)
	}
	path = strings.TrimSpace(path)
	if path == "" || path[0] != '/' {
		return operation{}, fmt.Errorf("operation %q: path must start with /", s)
	}
	if !safeLiteral(path) {
		return operation{}, fmt.Errorf("operation %q: path may not contain quotes, backslashes or control characters", s)
	}
	op := operation{key: method + " " + path, method: method}
	seen := map[string]bool{}
	for _, seg := range strings.Split(path[1:], "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			name := seg[1 : len(seg)-1]
			if name == "" || strings.ContainsAny(name, "{}") {
				return operation{}, fmt.Errorf("operation %q: invalid parameter %q", s, seg)
			}
			if seen[name] {
				return operation{}, fmt.Errorf("operation %q: parameter %q appears twice", s, name)
			}
			seen[name] = true
			op.params = append(op.params, name)
		} else if strings.ContainsAny(seg, "{}") {
			return operation{}, errors.New("operation " + fmt.Sprintf("%q", s) + ": a parameter must be a whole path segment")
		}
		op.segs = append(op.segs, seg)
	}
	return op, nil
}

// matcher finds the operation a request path belongs to when the API has
// no OpenAPI description. Literal segments win over parameters, compared
// segment by segment from the left, as OpenAPI requires.
type matcher struct {
	byMethod map[string][]operation
}

func newMatcher(ops []operation) *matcher {
	m := &matcher{byMethod: map[string][]operation{}}
	for _, op := range ops {
		m.byMethod[op.method] = append(m.byMethod[op.method], op)
	}
	return m
}

// match returns the operation key and path parameters for method and path
// (already relative to the API's upstream root), or "" when none matches.
func (m *matcher) match(method, path string) (string, map[string]string) {
	ops := m.byMethod[method]
	if len(ops) == 0 && method == http.MethodHead {
		ops = m.byMethod[http.MethodGet]
	}
	if len(ops) == 0 || path == "" || path[0] != '/' {
		return "", nil
	}
	segs := strings.Split(path[1:], "/")
	best := -1
	var bestScore []bool
	for i, op := range ops {
		if len(op.segs) != len(segs) {
			continue
		}
		score := make([]bool, len(segs))
		ok := true
		for j, s := range op.segs {
			if len(s) > 1 && s[0] == '{' {
				if segs[j] == "" {
					ok = false
					break
				}
				continue
			}
			if s != segs[j] {
				ok = false
				break
			}
			score[j] = true
		}
		if !ok {
			continue
		}
		if best < 0 || better(score, bestScore) {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return "", nil
	}
	op := ops[best]
	var params map[string]string
	for j, s := range op.segs {
		if len(s) > 1 && s[0] == '{' {
			if params == nil {
				params = make(map[string]string, len(op.params))
			}
			params[s[1:len(s)-1]] = segs[j]
		}
	}
	return op.key, params
}

// better reports whether a has a literal segment where b has a parameter,
// at the first position they differ.
func better(a, b []bool) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i]
		}
	}
	return false
}
