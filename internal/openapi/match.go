package openapi

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// MatchStatus says how a request path and method relate to the description.
type MatchStatus uint8

// The outcomes of Match.
const (
	// Unmatched is the zero value: the request was not matched (its API
	// declares no operations).
	Unmatched MatchStatus = iota
	// Found means an operation is declared for the method and path.
	Found
	// PathNotFound means no path template matches (answer 404).
	PathNotFound
	// MethodNotAllowed means a path template matches but declares no
	// operation for the method (answer 405 with Allow).
	MethodNotAllowed
)

// String returns "unmatched", "found", "path-not-found" or
// "method-not-allowed".
func (m MatchStatus) String() string {
	switch m {
	case Unmatched:
		return "unmatched"
	case Found:
		return "found"
	case PathNotFound:
		return "path-not-found"
	case MethodNotAllowed:
		return "method-not-allowed"
	}
	return fmt.Sprintf("MatchStatus(%d)", uint8(m))
}

// MatchResult is the outcome of Match, in a form that can be kept on an
// exchange for later stages (pipeline.Exchange.Match).
type MatchResult struct {
	// Status is the outcome.
	Status MatchStatus
	// Operation is the matched operation when Status is Found.
	Operation *Operation
	// Params holds the percent-decoded path parameters when Status is
	// Found (nil when the template has none).
	Params map[string]string
	// Template is the matched path template when Status is Found or
	// MethodNotAllowed.
	Template string
	// Allow lists the methods declared for the path when Status is
	// MethodNotAllowed (upper case, in path-item order, see Methods).
	// Shared; do not modify.
	Allow []string
}

// node is one position of the compiled segment tree.
type node struct {
	lit      map[string]*node
	patterns []*patternSeg
	param    *node
	leaf     *leaf
}

// leaf is a path template ending at a node.
type leaf struct {
	template string
	names    []string // names of the captured values, in order
	ops      map[string]*Operation
	allow    []string
}

// patternSeg is a segment mixing literal text and parameters
// ("{name}.json", "{year}-{month}"). Single-parameter segments are matched
// by prefix and suffix; the rare multi-parameter ones by a regexp compiled
// at load.
type patternSeg struct {
	prefix, suffix string
	re             *regexp.Regexp // nil for single-parameter segments
	n              int            // captured values
	child          *node
}

var paramRe = regexp.MustCompile(`\{[^{}/]+\}`)

// add inserts a template into the tree.
func (n *node) add(template string) (*leaf, error) {
	if !strings.HasPrefix(template, "/") {
		return nil, fmt.Errorf("path %q must start with /", template)
	}
	var names []string
	cur := n
	for _, seg := range strings.Split(template[1:], "/") {
		locs := paramRe.FindAllStringIndex(seg, -1)
		switch {
		case len(locs) == 0:
			if strings.ContainsAny(seg, "{}") {
				return nil, fmt.Errorf("path %q: malformed template segment %q", template, seg)
			}
			if cur.lit == nil {
				cur.lit = make(map[string]*node)
			}
			nx := cur.lit[seg]
			if nx == nil {
				nx = &node{}
				cur.lit[seg] = nx
			}
			cur = nx
		case len(locs) == 1 && locs[0][0] == 0 && locs[0][1] == len(seg):
			names = append(names, seg[1:len(seg)-1])
			if cur.param == nil {
				cur.param = &node{}
			}
			cur = cur.param
		default:
			ps := &patternSeg{n: len(locs)}
			if len(locs) == 1 {
				ps.prefix, ps.suffix = seg[:locs[0][0]], seg[locs[0][1]:]
			} else {
				var b strings.Builder
				b.WriteString("^")
				last := 0
				for _, l := range locs {
					b.WriteString(regexp.QuoteMeta(seg[last:l[0]]))
					b.WriteString("(.+?)")
					last = l[1]
				}
				b.WriteString(regexp.QuoteMeta(seg[last:]))
				b.WriteString("$")
				ps.re = regexp.MustCompile(b.String())
			}
			for _, l := range locs {
				names = append(names, seg[l[0]+1:l[1]-1])
			}
			// Reuse an identical pattern segment.
			var found *patternSeg
			for _, o := range cur.patterns {
				if o.prefix == ps.prefix && o.suffix == ps.suffix && o.n == ps.n &&
					(o.re == nil) == (ps.re == nil) && (o.re == nil || o.re.String() == ps.re.String()) {
					found = o
					break
				}
			}
			if found == nil {
				ps.child = &node{}
				cur.patterns = append(cur.patterns, ps)
				// Longer literal parts are more specific: try them first.
				sort.SliceStable(cur.patterns, func(i, j int) bool {
					return len(cur.patterns[i].prefix)+len(cur.patterns[i].suffix) > len(cur.patterns[j].prefix)+len(cur.patterns[j].suffix)
				})
				found = ps
			}
			cur = found.child
		}
	}
	if cur.leaf == nil {
		cur.leaf = &leaf{template: template, names: names, ops: make(map[string]*Operation)}
	} else if cur.leaf.template != template {
		return nil, fmt.Errorf("paths %q and %q are the same template", cur.leaf.template, template)
	}
	return cur.leaf, nil
}

// find walks the tree for rest (the path after its leading "/"). Literal
// segments are tried before patterns, and patterns before plain parameters,
// with backtracking, so "/pets/mine" wins over "/pets/{id}".
func (n *node) find(rest string, caps []string) (*leaf, []string) {
	seg, tail, more := strings.Cut(rest, "/")
	if n.lit != nil {
		key := seg
		if strings.IndexByte(seg, '%') >= 0 {
			if u, err := url.PathUnescape(seg); err == nil {
				key = u
			}
		}
		if c := n.lit[key]; c != nil {
			if l, cs := c.next(tail, more, caps); l != nil {
				return l, cs
			}
		}
	}
	for _, p := range n.patterns {
		k := len(caps)
		if p.re == nil {
			if len(seg) <= len(p.prefix)+len(p.suffix) || !strings.HasPrefix(seg, p.prefix) || !strings.HasSuffix(seg, p.suffix) {
				continue
			}
			caps = append(caps, seg[len(p.prefix):len(seg)-len(p.suffix)])
		} else {
			m := p.re.FindStringSubmatch(seg)
			if m == nil {
				continue
			}
			caps = append(caps, m[1:]...)
		}
		if l, cs := p.child.next(tail, more, caps); l != nil {
			return l, cs
		}
		caps = caps[:k]
	}
	if n.param != nil && seg != "" {
		k := len(caps)
		if l, cs := n.param.next(tail, more, append(caps, seg)); l != nil {
			return l, cs
		}
		caps = caps[:k]
	}
	return nil, caps
}

func (n *node) next(tail string, more bool, caps []string) (*leaf, []string) {
	if !more {
		return n.leaf, caps
	}
	return n.find(tail, caps)
}

// Match finds the operation for a method and a request path (the escaped
// path, as in URL.EscapedPath, so that an encoded "/" inside a parameter
// stays inside it). The path must include the server base path, if the
// description declares one ("/v1/pets" for server "/v1" and path "/pets").
// A HEAD request matches the path's GET operation when no HEAD is declared.
//
// Match allocates only the parameter map; it never compiles or scans a
// regular expression except for segments that hold more than one
// parameter.
func (s *Spec) Match(method, path string) (*Operation, map[string]string, MatchResult) {
	if s.strip != "" {
		p, ok := cutSegmentPrefix(path, s.strip)
		if !ok {
			return nil, nil, MatchResult{Status: PathNotFound}
		}
		path = p
	}
	var buf [8]string
	for _, base := range s.bases {
		rest, ok := cutSegmentPrefix(path, base)
		if !ok {
			continue
		}
		l, caps := s.tree.find(rest[1:], buf[:0])
		if l == nil {
			continue
		}
		op := l.ops[method]
		if op == nil && method == "HEAD" {
			op = l.ops["GET"]
		}
		if op == nil {
			return nil, nil, MatchResult{Status: MethodNotAllowed, Template: l.template, Allow: l.allow}
		}
		var params map[string]string
		if len(caps) > 0 {
			params = make(map[string]string, len(caps))
			for i, v := range caps {
				if i >= len(l.names) {
					break
				}
				if strings.IndexByte(v, '%') >= 0 {
					if u, err := url.PathUnescape(v); err == nil {
						v = u
					}
				}
				params[l.names[i]] = v
			}
		}
		return op, params, MatchResult{Status: Found, Operation: op, Params: params, Template: l.template}
	}
	return nil, nil, MatchResult{Status: PathNotFound}
}

// cutSegmentPrefix removes prefix ("" or "/v1", no trailing slash) from
// path on a segment boundary and returns the rest, which starts with "/".
func cutSegmentPrefix(path, prefix string) (string, bool) {
	if !strings.HasPrefix(path, "/") {
		return "", false
	}
	if prefix == "" {
		return path, true
	}
	if !strings.HasPrefix(path, prefix) {
		return "", false
	}
	rest := path[len(prefix):]
	if rest == "" {
		return "/", true
	}
	if rest[0] != '/' {
		return "", false
	}
	return rest, true
}
