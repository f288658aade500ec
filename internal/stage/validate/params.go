package validate

import (
	"net/url"
	"sort"
	"strings"
)

// paramKey is how lenient frameworks name a query parameter: case folded
// (ASP.NET's and Spring's case-insensitive lookups, Go's encoding/json-like
// binders), and '.' and ' ' turned into '_' (PHP's $_GET mangling).
func paramKey(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', ' ':
			return '_'
		}
		return r
	}, strings.ToLower(name))
}

// lookalikes returns the query keys that are not a declared parameter but
// that some framework reads as one: "LIMIT" beside "limit", "user.id"
// beside "user_id". They are refused whatever reject_unknown_query says:
// the gateway validated "limit=10" while an upstream that folds case reads
// "LIMIT=100000" (or both, joined) as the same parameter.
func lookalikes(query url.Values, declared map[string]bool) []string {
	if len(declared) == 0 {
		return nil
	}
	var keys map[string]string // built at the first undeclared key: most requests have none
	var out []string
	for k := range query {
		if declared[k] {
			continue
		}
		base := k
		if b := deepBase(k); b != "" {
			if declared[b] {
				continue
			}
			base = b
		}
		if keys == nil {
			keys = make(map[string]string, len(declared))
			for d := range declared {
				keys[paramKey(d)] = d
			}
		}
		if _, ok := keys[paramKey(base)]; ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
