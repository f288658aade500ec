package config

import (
	"fmt"
	"strings"
)

// envError is a problem with one ${...} reference inside a scalar. Offset
// is the byte offset of its "$" in the scalar's value and Ref the text of
// the reference up to the variable name ("${NAME"), used to find it in the
// file.
type envError struct {
	Offset int
	Ref    string
	Msg    string
}

// expandEnv replaces ${VAR} and ${VAR:-default} in s with values from
// lookup, and $$ with a single $. Any other $ is kept as written. VAR is
// [A-Za-z_][A-Za-z0-9_]*. The default is used when VAR is unset or empty;
// an unset VAR without a default is an error (the reference expands to "").
// changed reports whether s held any reference or escape.
func expandEnv(s string, lookup func(string) (string, bool)) (out string, changed bool, errs []envError) {
	if !strings.Contains(s, "$") {
		return s, false, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			changed = true
			i += 2
			continue
		case '{':
		default:
			b.WriteByte(c)
			i++
			continue
		}
		changed = true
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			errs = append(errs, envError{Offset: i, Ref: "${", Msg: fmt.Sprintf("unterminated ${ in %q (expected ${NAME} or ${NAME:-default}; write $$ for a literal $)", s)})
			b.WriteString(s[i:])
			break
		}
		body := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(body, ":-")
		ref := "${" + name
		if !validEnvName(name) {
			errs = append(errs, envError{Offset: i, Ref: ref, Msg: fmt.Sprintf("invalid variable reference ${%s} (expected ${NAME} or ${NAME:-default} with NAME made of letters, digits and _; write $$ for a literal $)", body)})
			i += end + 1
			continue
		}
		val, ok := lookup(name)
		switch {
		case ok && (val != "" || !hasDef):
			b.WriteString(val)
		case hasDef:
			b.WriteString(def)
		default:
			errs = append(errs, envError{Offset: i, Ref: ref, Msg: fmt.Sprintf("environment variable %s is not set (set it, or give a default: ${%s:-default})", name, name)})
		}
		i += end + 1
	}
	return b.String(), changed, errs
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
