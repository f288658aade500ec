package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/openapi"
)

// initOptions are the flags of `portcullis init`.
type initOptions struct {
	spec, out, name, upstream, listen, mode string
	force                                   bool
}

func newInit() *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init --openapi FILE [-o portcullis.yaml]",
		Short: "Write a starting config from an OpenAPI description",
		Long: `Write a starting config for one API from its OpenAPI 3.0/3.1 description:
the upstream from its servers (or --upstream), validate and waf in log mode
(they record what they would refuse and let it through), authentication from
its securitySchemes with the description's security requirements enforced,
and a per-client rate limit on operations that look like logins, sign-ups,
password resets or token endpoints.

The config is checked as 'portcullis check' would before it is written; a
file that exists is not overwritten without --force. -o - writes to stdout.`,
		Example: `  bin/portcullis init --openapi openapi.yaml -o portcullis.yaml
  bin/portcullis init --openapi openapi.yaml --upstream http://10.0.0.5:8080 --mode block -o -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.spec == "" {
				return usageError(errors.New("--openapi FILE is required"))
			}
			if o.mode != "log" && o.mode != "block" {
				return usageError(fmt.Errorf("--mode %q: expected log or block", o.mode))
			}
			return runInit(cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.spec, "openapi", "", "OpenAPI 3.0/3.1 description (file)")
	f.StringVarP(&o.out, "out", "o", "portcullis.yaml", "config file to write; - for stdout")
	f.StringVar(&o.name, "name", "", "API name (default: from info.title)")
	f.StringVar(&o.upstream, "upstream", "", "upstream base URL (default: the description's first absolute http(s) server)")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "gateway listener address")
	f.StringVar(&o.mode, "mode", "log", "validate and waf mode: log (record, let through) or block")
	f.BoolVar(&o.force, "force", false, "overwrite the output file")
	return cmd
}

func runInit(stdout, stderr io.Writer, o initOptions) error {
	spec, err := openapi.Load(o.spec)
	if err != nil {
		return usageError(fmt.Errorf("--openapi: %w", err))
	}
	toStdout := o.out == "-"
	outPath := o.out
	if toStdout {
		outPath = "portcullis.yaml" // relative paths as if saved in the working directory
	} else if !o.force {
		if _, err := os.Stat(o.out); err == nil {
			return usageError(fmt.Errorf("%s exists: choose another -o or add --force", o.out))
		}
	}
	if o.upstream != "" {
		if u, err := url.Parse(o.upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError(fmt.Errorf("--upstream %q: expected an http(s) URL such as http://10.0.0.5:8080", o.upstream))
		}
	}
	specRef, err := relativeTo(filepath.Dir(outPath), o.spec)
	if err != nil {
		return err
	}
	text := initConfig(spec, specRef, o)

	// The config is checked exactly as `portcullis check` would check it
	// once saved, so that init never writes a file check refuses.
	cfg, err := config.Parse(outPath, text)
	if err == nil {
		err = gateway.Check(cfg)
	}
	if err != nil {
		return fmt.Errorf("the generated config does not pass check (please report this with the description): %w\n%s", err, text)
	}
	if toStdout {
		_, err := stdout.Write(text)
		return err
	}
	if err := os.WriteFile(o.out, text, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s for %q (%d operations)\n  check it:  bin/portcullis check -c %s\n  serve it:  bin/portcullis serve -c %s\n",
		o.out, spec.Title, len(spec.Operations()), o.out, o.out)
	return nil
}

// relativeTo returns path relative to dir when the two share a directory
// below the root (a project folder), else the absolute path.
func relativeTo(dir, path string) (string, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	absPath, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	top := func(p string) string {
		return strings.SplitN(strings.TrimPrefix(p, string(filepath.Separator)), string(filepath.Separator), 2)[0]
	}
	rel, err := filepath.Rel(absDir, absPath)
	if err != nil || top(absDir) != top(absPath) {
		return filepath.ToSlash(absPath), nil
	}
	return filepath.ToSlash(rel), nil
}

// initConfig renders the starting config. It is written as text, not
// marshalled, so that every block carries the comment that explains it.
func initConfig(spec *openapi.Spec, specRef string, o initOptions) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	name := o.name
	if name == "" {
		name = apiName(spec.Title)
	}
	wafMode := "detect"
	if o.mode == "block" {
		wafMode = "block"
	}

	w("# Portcullis config for %s, written by `portcullis init` from\n# %s (OpenAPI %s, %d operations).\n#\n",
		yamlComment(quoteTitle(spec)), specRef, spec.Version, len(spec.Operations()))
	w("#   bin/portcullis check -c THIS_FILE    every problem as file:line:column\n")
	w("#   bin/portcullis serve -c THIS_FILE    reloads on SIGHUP and when the file changes\n#\n")
	if o.mode == "log" {
		w("# validate and waf start in log mode: what they would refuse is recorded\n")
		w("# as a security event and let through. Watch the events (log.access,\n")
		w("# events.jsonl), tune, then set both to block. Every key: docs/config.md.\n")
	} else {
		w("# validate and waf block what the description does not allow and what\n")
		w("# looks like an attack. Every key: docs/config.md.\n")
	}
	w("listeners:\n  - addr: %s\n\n", yamlString(o.listen))
	w("# Behind a load balancer or CDN, name it here so that rate limits and\n")
	w("# events see the real client address (X-Forwarded-For / Forwarded):\n")
	w("# server:\n#   trusted_proxies: [10.0.0.0/8]\n\n")
	w("# The admin listener (metrics, health, admin API) stays on loopback:\n")
	w("# admin:\n#   addr: 127.0.0.1:9901\n#   token: ${PORTCULLIS_ADMIN_TOKEN}\n\n")

	w("apis:\n  - name: %s\n", name)
	w("    openapi: %s   # relative to this file\n", yamlString(specRef))
	writeUpstream(w, spec, o.upstream)
	writeSecurity(w, spec)
	writeLoginLimits(w, spec)
	w("\n    # Positive security: paths, methods, parameters and bodies the\n")
	w("    # description does not declare, and values of the wrong type.\n")
	w("    validate:\n      mode: %s\n      strict_objects: true   # undeclared and readOnly properties (mass assignment)\n", o.mode)
	w("\n    # Signatures (OWASP CRS v4, libinjection) on free-text values.\n")
	w("    waf:\n      mode: %s\n      paranoia_level: 1\n", wafMode)
	return b.Bytes()
}

func quoteTitle(spec *openapi.Spec) string {
	t := spec.Title
	if t == "" {
		t = "an API without a title"
	} else {
		t = strconv.Quote(t)
	}
	if spec.APIVersion != "" {
		t += " " + spec.APIVersion
	}
	return t
}

// yamlComment keeps a value on one comment line.
func yamlComment(s string) string { return strings.Join(strings.Fields(s), " ") }

// yamlString quotes s when plain YAML would read it as something else.
func yamlString(s string) string {
	if s == "" || strings.ContainsAny(s, "#{}[],&*!|>'\"%@`\\") || strings.Contains(s, ": ") ||
		strings.HasSuffix(s, ":") || strings.HasPrefix(s, "-") || strings.HasPrefix(s, "?") || strings.TrimSpace(s) != s {
		return strconv.Quote(s)
	}
	return s
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// apiName makes a config API name from a title: "Swagger Petstore -
// OpenAPI 3.0" → "swagger-petstore-openapi-3-0".
func apiName(title string) string {
	n := strings.Trim(nonName.ReplaceAllString(strings.ToLower(title), "-"), "-")
	if len(n) > 40 {
		n = strings.TrimRight(n[:40], "-")
	}
	if n == "" {
		return "api"
	}
	return n
}

// writeUpstream writes the upstream block: --upstream, else the first
// absolute http(s) server (the others as comments: round robin over
// staging and production would be wrong), else an environment variable.
func writeUpstream(w func(string, ...any), spec *openapi.Spec, upstream string) {
	var bases []string
	for _, s := range spec.Servers {
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			continue
		}
		base := u.Scheme + "://" + u.Host
		if !slices.Contains(bases, base) {
			bases = append(bases, base)
		}
	}
	w("    upstream:\n      targets:\n")
	switch {
	case upstream != "":
		w("        - %s\n", yamlString(strings.TrimRight(upstream, "/")))
		for _, b := range bases {
			w("        # - %s   (a server of the description)\n", b)
		}
	case len(bases) > 0:
		w("        - %s   # the description's first server\n", yamlString(bases[0]))
		for _, b := range bases[1:] {
			w("        # - %s   (another server of the description)\n", b)
		}
	default:
		w("        # The description names no absolute http(s) server: set the\n")
		w("        # upstream here or in PORTCULLIS_UPSTREAM.\n")
		w("        - \"${PORTCULLIS_UPSTREAM:-http://127.0.0.1:8081}\"\n")
	}
	w("      response_header_timeout: 30s\n")
}

// writeSecurity writes authn from the security schemes the operations use,
// and authz enforcing each operation's requirements.
func writeSecurity(w func(string, ...any), spec *openapi.Spec) {
	used := map[string]bool{}
	public := 0
	for _, op := range spec.Operations() {
		if op.Public() {
			public++
		}
		for _, req := range op.Security {
			for name := range req {
				used[name] = true
			}
		}
	}
	if len(used) == 0 {
		w("\n    # The description declares no security requirement, so there is no\n")
		w("    # authn block. Add one (docs/authn.md) if the API is not public.\n")
		return
	}
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)

	var methods, notes []string
	jwt := false
	for _, n := range names {
		s := spec.SecuritySchemes[n]
		if s == nil {
			notes = append(notes, fmt.Sprintf("%s: not in components.securitySchemes", n))
			continue
		}
		switch {
		case s.Type == "apiKey" && s.In == "header":
			methods = append(methods, fmt.Sprintf("        - apikey: {header: %s, file: keys.yaml}   # %s; bin/portcullis keys create --file keys.yaml --owner NAME",
				yamlString(s.Name), n))
		case s.Type == "apiKey" && s.In == "query":
			methods = append(methods, fmt.Sprintf("        - apikey: {header: \"-\", query: %s, file: keys.yaml}   # %s (keys in URLs end up in logs: prefer a header)",
				yamlString(s.Name), n))
		case s.Type == "apiKey":
			notes = append(notes, fmt.Sprintf("%s: API keys in a %s are not supported (header or query)", n, s.In))
		case s.Type == "http" && s.Scheme == "bearer", s.Type == "oauth2", s.Type == "openIdConnect":
			if jwt {
				continue
			}
			jwt = true
			methods = append(methods, jwtMethod(spec, names))
		case s.Type == "http":
			notes = append(notes, fmt.Sprintf("%s: HTTP %q authentication is not supported; use API keys, JWT or mTLS", n, s.Scheme))
		case s.Type == "mutualTLS":
			notes = append(notes, fmt.Sprintf("%s: mutual TLS needs a TLS listener with client_ca, then `- mtls: {identity: cn}` here", n))
		default:
			notes = append(notes, fmt.Sprintf("%s: scheme type %q is not supported", n, s.Type))
		}
	}
	w("\n    # Who is calling, from the description's securitySchemes.\n")
	if len(methods) == 0 {
		w("    # None of the schemes it uses can be checked by the gateway:\n")
		for _, n := range notes {
			w("    #   %s\n", n)
		}
		w("    # Add an authn block (docs/authn.md).\n")
		return
	}
	for _, n := range notes {
		w("    # %s\n", n)
	}
	w("    authn:\n")
	if public > 0 {
		w("      optional: true   # %d operations are public; authz below requires a\n", public)
		w("                       # credential where the description does\n")
	}
	w("      methods:\n")
	for _, m := range methods {
		w("%s\n", m)
	}
	w("\n    # What the caller may do: each operation's security requirement\n")
	w("    # (its scopes, held as scopes or roles), as the description says.\n")
	w("    authz:\n      openapi_scopes: true\n")
}

// jwtMethod is the jwt method for bearer, OAuth2 and OpenID Connect
// schemes: discovery when the description names an OpenID Connect URL,
// else a JWKS URL to fill in.
func jwtMethod(spec *openapi.Spec, names []string) string {
	for _, n := range names {
		s := spec.SecuritySchemes[n]
		if s == nil || s.Type != "openIdConnect" || s.OpenIDConnectURL == "" {
			continue
		}
		issuer := strings.TrimSuffix(strings.TrimSuffix(s.OpenIDConnectURL, "/.well-known/openid-configuration"), "/")
		if u, err := url.Parse(issuer); err == nil && u.Scheme == "https" && u.Host != "" {
			return fmt.Sprintf("        - jwt:   # %s\n            issuer: %s\n            discovery: true\n"+
				"            # audience: [%s]   # set it: tokens for other APIs of this issuer pass otherwise", n, yamlString(issuer), "THIS-API")
		}
	}
	return "        - jwt:   # bearer tokens (OAuth2 access tokens, JWT)\n" +
		"            # Your identity provider's issuer and keys (or discovery: true):\n" +
		"            issuer: \"${JWT_ISSUER:-https://idp.example.com}\"\n" +
		"            jwks_url: \"${JWT_JWKS_URL:-https://idp.example.com/.well-known/jwks.json}\"\n" +
		"            # audience: [THIS-API]   # set it: tokens for other APIs of this issuer pass otherwise"
}

// loginWords mark operations that credential stuffing and enumeration
// target: logins, sign-ups, password resets, one-time codes, token
// endpoints.
var loginWords = regexp.MustCompile(`(?i)log-?[io]n|sign-?[io]n|sign-?up|register|passw(or)?d|forgot|reset|otp|mfa|2fa|verify-?code|(^|[^a-z])(auth|token|session)s?($|[^a-z])`)

// loginOperations returns the keys of operations that look like logins:
// by operationId, path, summary or tag.
func loginOperations(spec *openapi.Spec) []string {
	var out []string
	for _, op := range spec.Operations() {
		if op.Method == "GET" && !loginWords.MatchString(op.ID) && !slices.ContainsFunc(op.Tags, loginWords.MatchString) &&
			!strings.Contains(strings.ToLower(op.Path), "login") {
			continue // a GET is a login only when its id, tag or path says so (GET /user/login)
		}
		if loginWords.MatchString(op.ID) || loginWords.MatchString(op.Path) || loginWords.MatchString(op.Summary) ||
			slices.ContainsFunc(op.Tags, func(t string) bool { return loginWords.MatchString(t) }) {
			out = append(out, op.Key())
		}
	}
	return out
}

func writeLoginLimits(w func(string, ...any), spec *openapi.Spec) {
	ops := loginOperations(spec)
	w("\n    # Abuse: credential stuffing, enumeration and brute force go through\n")
	w("    # logins, sign-ups, resets and token endpoints. These are limited per\n")
	w("    # client address and operation (set server.trusted_proxies first when\n")
	w("    # behind a load balancer). Uncomment the per-ip limit for everything.\n")
	if len(ops) == 0 {
		w("    # No operation of the description looks like a login.\n")
		w("    # ratelimit:\n    #   limits:\n")
		w("    #     - {name: per-ip, key: [ip], rate: 100, per: 1s, burst: 200}\n")
		return
	}
	w("    ratelimit:\n      limits:\n")
	w("        - name: login\n          key: [ip, operation]\n          operations:\n")
	for _, k := range ops {
		w("            - %s\n", strconv.Quote(k))
	}
	w("          rate: 10\n          per: 1m\n          burst: 10\n")
	w("        # - {name: per-ip, key: [ip], rate: 100, per: 1s, burst: 200}\n")
}
