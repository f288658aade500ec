package demo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// The search endpoints are deliberately injectable, so that the demo can
// show the waf stage at work: GET /search builds an SQL string by pasting
// the query in (and "runs" it: a tautology returns every pet), and POST
// /search evaluates a MongoDB-style JSON filter, operators included
// ({"name": {"$ne": null}} matches everything). Nothing is executed for
// real; the point is what reaches the upstream without a gateway.
func init() {
	routes = append(routes,
		route{http.MethodGet, "/search", (*api).searchPets},
		route{http.MethodPost, "/search", (*api).filterPets},
	)
}

// SearchResult is the answer of GET and POST /search.
type SearchResult struct {
	// Query is what the (pretend) database was asked, with the input pasted
	// in unescaped: the injectable part of the demo.
	Query   string `json:"query"`
	Results []Pet  `json:"results"`
}

var tautology = regexp.MustCompile(`(?i)'\s*or\s+'?[\w]+'?\s*=\s*'?[\w]+`)

func (a *api) searchPets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	res := SearchResult{Query: "SELECT * FROM pets WHERE name LIKE '%" + q + "%'", Results: []Pet{}}
	all := tautology.MatchString(q) // the "injection" worked
	a.mu.RLock()
	for _, id := range a.petIDs {
		p := a.pets[id].v
		if all || strings.Contains(strings.ToLower(p.Name), strings.ToLower(q)) {
			res.Results = append(res.Results, p)
		}
	}
	a.mu.RUnlock()
	b, _ := json.Marshal(res)
	writeJSON(w, http.StatusOK, b)
}

func (a *api) filterPets(w http.ResponseWriter, r *http.Request) {
	var filter map[string]any
	if !readJSON(w, r, &filter) {
		return
	}
	fq, _ := json.Marshal(filter)
	res := SearchResult{Query: "db.pets.find(" + string(fq) + ")", Results: []Pet{}}
	a.mu.RLock()
	for _, id := range a.petIDs {
		p := a.pets[id].v
		fields := map[string]string{"name": p.Name, "tag": p.Tag, "status": p.Status}
		ok := true
		for k, cond := range filter {
			if !matchCond(fields[k], cond) {
				ok = false
				break
			}
		}
		if ok {
			res.Results = append(res.Results, p)
		}
	}
	a.mu.RUnlock()
	b, _ := json.Marshal(res)
	writeJSON(w, http.StatusOK, b)
}

// matchCond evaluates one filter condition the way a naive document store
// would: a plain value is equality, an object holds operators.
func matchCond(v string, cond any) bool {
	ops, ok := cond.(map[string]any)
	if !ok {
		return v == fmt.Sprint(cond)
	}
	for op, arg := range ops {
		s := fmt.Sprint(arg)
		switch op {
		case "$eq":
			if v != s {
				return false
			}
		case "$ne":
			if v == s {
				return false
			}
		case "$gt":
			if v <= s {
				return false
			}
		case "$regex":
			re, err := regexp.Compile(s)
			if err != nil || !re.MatchString(v) {
				return false
			}
		default:
			return false
		}
	}
	return true
}
