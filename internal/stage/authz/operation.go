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
