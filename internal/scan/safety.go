package scan

import (
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"unicode"

	"github.com/portcullis/portcullis/internal/openapi"
)

// A selector names operations in Config.Include, Exclude and
// AllowDangerous:
//
//	createNote          an operationId
//	POST /notes         a method and a path template (either may use * globs: "* /admin/*")
//	/notes/{id}         a path template, any method
//	tag:admin           every operation with that tag
//
// Matching is case-sensitive for ids, paths and tags, case-insensitive for
// the method.
type selector string

func (sel selector) matches(op *openapi.Operation) bool {
	s := strings.TrimSpace(string(sel))
	if t, ok := strings.CutPrefix(s, "tag:"); ok {
		return slices.Contains(op.Tags, strings.TrimSpace(t))
	}
	if strings.HasPrefix(s, "/") {
		ok, _ := path.Match(s, op.Path)
		return ok || s == op.Path
	}
	if m, p, ok := strings.Cut(s, " "); ok {
		p = strings.TrimSpace(p)
		mok, _ := path.Match(strings.ToUpper(m), op.Method)
		pok, _ := path.Match(p, op.Path)
		return mok && (pok || p == op.Path)
	}
	return op.ID != "" && op.ID == s
}

// validSelector reports a selector that cannot match anything because of
// its form (an empty one, a bad glob).
func validSelector(s string) error {
	s = strings.TrimSpace(s)
	switch {
	case s == "" || s == "tag:":
		return fmt.Errorf("empty operation selector")
	case strings.HasPrefix(s, "/"):
		_, err := path.Match(s, "/")
		return err
	}
	if m, p, ok := strings.Cut(s, " "); ok {
		if _, err := path.Match(strings.ToUpper(m), "GET"); err != nil {
			return err
		}
		if _, err := path.Match(strings.TrimSpace(p), "/"); err != nil {
			return err
		}
		if !strings.HasPrefix(strings.TrimSpace(p), "/") {
			return fmt.Errorf("selector %q: the path must start with /", s)
		}
	}
	return nil
}

func anyMatches(sels []string, op *openapi.Operation) bool {
	for _, s := range sels {
		if selector(s).matches(op) {
			return true
		}
	}
	return false
}

// dangerWords are words that, alone in an operation's id or path, say the
// operation destroys or rebuilds state wholesale whatever its method: a
// GET /createdb that drops the database is no read.
var dangerWords = map[string]bool{
	"createdb": true, "initdb": true, "dropdb": true, "resetdb": true, "recreatedb": true, "cleardb": true,
	"drop": true, "purge": true, "truncate": true, "wipe": true, "flush": true, "flushall": true, "nuke": true,
	"destroy": true, "erase": true, "shutdown": true, "restart": true, "reboot": true, "halt": true,
	"poweroff": true, "seed": true, "reseed": true, "populate": true, "factory": true, "deleteall": true,
	"removeall": true, "clearall": true, "resetall": true, "teardown": true, "reinit": true, "reinitialize": true,
}

// dangerVerbs followed (anywhere later in the name) by a dangerObject are
// the two-word forms: reset-database, delete_all, clear/everything,
// rebuildIndex.
var (
	dangerVerbs   = map[string]bool{"reset": true, "delete": true, "remove": true, "clear": true, "init": true, "initialize": true, "create": true, "recreate": true, "rebuild": true, "empty": true, "kill": true}
	dangerObjects = map[string]bool{"db": true, "database": true, "databases": true, "data": true, "all": true, "everything": true, "system": true, "tables": true, "table": true, "schema": true, "store": true, "server": true, "index": true, "indexes": true, "cluster": true}
)

// words splits names into lowercase words at non-letters and camelCase
// boundaries ("resetDB_now" → reset, db, now).
func words(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && len(cur) > 0 && (unicode.IsLower(cur[len(cur)-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(cur[len(cur)-1])):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return out
}

// dangerous reports whether op looks like it destroys or rebuilds state
// wholesale (by its operationId, path and summary), and why.
func dangerous(op *openapi.Operation) (string, bool) {
	for _, name := range []string{op.ID, op.Path} {
		ws := words(name)
		// A path's single segment "resetdb" or "delete-all" and an id's
		// "resetDatabase" are caught alike: words and their joined pairs.
		for i, w := range ws {
			if dangerWords[w] {
				return fmt.Sprintf("%q in %q", w, name), true
			}
			if i+1 < len(ws) && dangerWords[w+ws[i+1]] {
				return fmt.Sprintf("%q in %q", w+ws[i+1], name), true
			}
			if dangerVerbs[w] {
				for _, x := range ws[i+1:] {
					if dangerObjects[x] {
						return fmt.Sprintf("%q … %q in %q", w, x, name), true
					}
				}
			}
		}
	}
	// The summary is prose: only the two-word forms count there ("Drops and
	// recreates the database"), so "Delete a note" is not dangerous.
	ws := words(op.Summary)
	for i, w := range ws {
		if dangerVerbs[w] || w == "drops" || w == "recreates" || w == "resets" || w == "deletes" || w == "wipes" || w == "purges" || w == "truncates" {
			for _, x := range ws[i+1:] {
				if x == "database" || x == "db" || x == "everything" || x == "tables" {
					return fmt.Sprintf("%q … %q in the summary", w, x), true
				}
			}
		}
	}
	return "", false
}

// skipReason reports why op is not sent at all, or "" when it may be:
// not included, excluded, destructive-looking and not allowed, or a write
// without AllowDestructive.
func (s *scanner) skipReason(op *openapi.Operation) string {
	if len(s.cfg.Include) > 0 && !anyMatches(s.cfg.Include, op) {
		return "not included"
	}
	if anyMatches(s.cfg.Exclude, op) {
		return "excluded"
	}
	if why, bad := dangerous(op); bad && !anyMatches(s.cfg.AllowDangerous, op) {
		return "looks destructive (" + why + "); allow it with allow_dangerous"
	}
	switch op.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return ""
	case http.MethodPost:
		if !strings.Contains(op.Path, "{") || s.cfg.AllowDestructive {
			return ""
		}
	}
	if s.cfg.AllowDestructive {
		return ""
	}
	return "changes existing objects; allow it with allow_destructive"
}
