package detect

import "github.com/portcullis/portcullis/internal/openapi"

// undeclared is detect.undeclared: distinct paths and methods the API's
// operation matcher does not declare, per client. A client that calls
// what the description lacks is guessing; retrying one wrong path is not,
// so distinct "METHOD path" pairs count. Only APIs with an OpenAPI
// description feed it: operations that stage blocks merely name (an authz
// rule, a rate limit) are not a declaration of the whole API.
type undeclared struct{ r Rule }

func newUndeclared(c Rule) *undeclared { return &undeclared{r: c.withDefaults("undeclared")} }

func (d *undeclared) name() string { return "undeclared" }
func (d *undeclared) rule() Rule   { return d.r }

func (d *undeclared) probes(f *facts) []probe {
	st := f.x.Match.Status
	if !f.described || st != openapi.PathNotFound && st != openapi.MethodNotAllowed {
		return nil
	}
	k := f.keyOf(d.r.Key)
	if k == "" {
		return nil
	}
	path := f.path
	if len(path) > 256 {
		path = path[:256]
	}
	return []probe{{d: d, key: k, s: f.sighting(d, k, f.x.Request.Method+" "+path, 0)}}
}
