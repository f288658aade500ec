package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// login is a compiled Login.
type login struct {
	key, method, path string
	kind, name        string
	pointer           []string
	failure           []int
}

// maxLoginBody bounds the body read for the account name: a login form is
// small, and anything larger is not read here (the limits stage still
// applies to it).
const maxLoginBody = 16 << 10

func compileLogin(l Login) (login, error) {
	method, path, err := openapi.ParseOperationKey(l.Operation)
	if err != nil {
		return login{}, fmt.Errorf("logins: %w", err)
	}
	kind, name, _ := strings.Cut(l.Account, ":")
	lg := login{key: method + " " + path, method: method, path: path, kind: kind, name: name, failure: l.Failure}
	if len(lg.failure) == 0 {
		lg.failure = []int{401, 403}
	}
	if kind == "body" {
		for _, p := range strings.Split(strings.TrimPrefix(name, "/"), "/") {
			lg.pointer = append(lg.pointer, strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~"))
		}
	}
	return lg, nil
}

// login returns the login operation x is, nil when none: by the matched
// operation, or, for an API that declares none, by method and literal path.
func (s *Stage) login(x *pipeline.Exchange) *login {
	for i := range s.logins {
		lg := &s.logins[i]
		if x.Operation != "" {
			if x.Operation == lg.key {
				return lg
			}
			continue
		}
		if x.Request.Method == lg.method && x.Request.URL.Path == lg.path {
			return lg
		}
	}
	return nil
}

// account reads the account name a login request names ("" when none).
// Names are cut at 128 bytes: they are counted, never shown whole.
func (lg *login) account(x *pipeline.Exchange) string {
	r := x.Request
	var v string
	switch lg.kind {
	case "query":
		v = r.URL.Query().Get(lg.name)
	case "header":
		v = r.Header.Get(lg.name)
	case "form", "body":
		if r.ContentLength > maxLoginBody {
			return ""
		}
		b, err := x.Body()
		if err != nil || len(b) > maxLoginBody {
			return ""
		}
		if lg.kind == "form" {
			q, err := url.ParseQuery(string(b))
			if err != nil {
				return ""
			}
			v = q.Get(lg.name)
			break
		}
		var doc any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if d.Decode(&doc) != nil {
			return ""
		}
		for _, p := range lg.pointer {
			m, ok := doc.(map[string]any)
			if !ok {
				return ""
			}
			doc = m[p]
		}
		switch t := doc.(type) {
		case string:
			v = t
		case json.Number:
			v = t.String()
		}
	}
	v = strings.ToLower(strings.TrimSpace(v))
	if len(v) > 128 {
		v = v[:128]
	}
	return v
}
