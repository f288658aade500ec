package openapi

import (
	"fmt"
	"slices"
	"strings"
)

// Methods are the HTTP methods an operation may have, in the order of a
// path item.
var Methods = []string{"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}

// ParseOperationKey splits an operation key such as "GET /users/{id}"
// into its upper-case method and its path template, and checks both: a
// known method, a path starting with "/", and well-formed {parameters}.
func ParseOperationKey(key string) (method, path string, err error) {
	m, p, ok := strings.Cut(strings.TrimSpace(key), " ")
	if !ok {
		return "", "", fmt.Errorf("operation %q: expected METHOD /path, such as \"GET /users/{id}\"", key)
	}
	m, p = strings.ToUpper(m), strings.TrimSpace(p)
	if !slices.Contains(Methods, m) {
		return "", "", fmt.Errorf("operation %q: unknown method %q (expected one of %s)", key, m, strings.Join(Methods, ", "))
	}
	if !strings.HasPrefix(p, "/") {
		return "", "", fmt.Errorf("operation %q: the path must start with /", key)
	}
	if _, err := (&node{}).add(p); err != nil {
		return "", "", fmt.Errorf("operation %q: %w", key, err)
	}
	seen := map[string]bool{}
	for _, name := range paramRe.FindAllString(p, -1) {
		if seen[name] {
			return "", "", fmt.Errorf("operation %q: parameter %s appears twice", key, name)
		}
		seen[name] = true
	}
	return m, p, nil
}

// FromOperations returns a Spec that declares only the given operations
// ("GET /users/{id}", "POST /orders"), without parameters, bodies or
// schemas: the operation matcher of an API that has no description. Match
// answers it exactly as it answers a loaded description. Duplicate keys
// are merged; an invalid key is an error.
func FromOperations(keys []string) (*Spec, error) {
	s := &Spec{SecuritySchemes: map[string]*SecurityScheme{}, byID: map[string]*Operation{}, tree: &node{}, bases: []string{""}}
	seen := map[string]bool{}
	for _, k := range keys {
		method, path, err := ParseOperationKey(k)
		if err != nil {
			return nil, err
		}
		op := &Operation{Method: method, Path: path}
		op.key = method + " " + path
		if seen[op.key] {
			continue
		}
		seen[op.key] = true
		lf, err := s.tree.add(path)
		if err != nil {
			return nil, fmt.Errorf("operation %q: %w", k, err)
		}
		lf.ops[method] = op
		s.ops = append(s.ops, op)
	}
	sortOperations(s.ops)
	s.fillAllow()
	return s, nil
}

// fillAllow sets every leaf's Allow list from its operations, in
// path-item order, with HEAD implied by GET.
func (s *Spec) fillAllow() {
	var walk func(n *node)
	walk = func(n *node) {
		if n == nil {
			return
		}
		if l := n.leaf; l != nil {
			l.allow = l.allow[:0]
			for _, m := range Methods {
				if l.ops[m] != nil {
					l.allow = append(l.allow, m)
				}
			}
			if l.ops["GET"] != nil && l.ops["HEAD"] == nil {
				l.allow = append(l.allow, "HEAD")
			}
		}
		for _, c := range n.lit {
			walk(c)
		}
		for _, p := range n.patterns {
			walk(p.child)
		}
		walk(n.param)
	}
	walk(s.tree)
}
