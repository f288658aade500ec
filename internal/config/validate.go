package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/field"
	"github.com/portcullis/portcullis/internal/openapi"
	"github.com/portcullis/portcullis/internal/pipeline"
)

// fieldValidator is implemented by stage config blocks that check
// themselves; paths in the list are relative to the block.
type fieldValidator interface {
	Validate() field.List
}

var apiNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// minPreloadMaxAge is the shortest max-age the HSTS preload list accepts.
const minPreloadMaxAge = 8760 * time.Hour

// Validate checks c as Load leaves it (defaults applied, paths absolute)
// and returns every problem found, positioned through c.Source when c was
// loaded from a file. A nil result means c is valid. Stage blocks whose
// config type has a `Validate() field.List` method are checked by it.
func (c *Config) Validate() Problems {
	v := &validator{c: c, src: c.Source}
	if v.src == nil {
		v.src = &Source{File: c.File}
	}
	v.run()
	v.probs.sort()
	return v.probs
}

type validator struct {
	c     *Config
	src   *Source
	probs Problems
}

func (v *validator) add(path, format string, args ...any) {
	v.probs = append(v.probs, v.src.Problem(path, fmt.Sprintf(format, args...)))
}

// line names where path was written, for "first defined at line N".
func (v *validator) line(path string) string {
	if p, ok := v.src.Position(path); ok {
		return fmt.Sprintf(" (first at line %d)", p.Line)
	}
	return ""
}

func (v *validator) run() {
	c := v.c
	v.listeners()
	if !c.Admin.Disabled {
		v.hostPort("admin.addr", c.Admin.Addr)
		for i, l := range c.Listeners {
			if l.Addr != "" && l.Addr == c.Admin.Addr && !anyPort(l.Addr) {
				v.add("admin.addr", "%q is also listeners[%d].addr (the admin plane needs its own address)", c.Admin.Addr, i)
			}
		}
	}
	v.server()
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add("log.level", "%q is not a log level (expected one of: debug, info, warn, error)", c.Log.Level)
	}
	if len(c.APIs) == 0 {
		v.add("apis", "at least one API is required (expected a list of APIs with name and upstream.targets)")
	}
	seen := map[string]int{}
	for i := range c.APIs {
		v.api(i, &c.APIs[i], seen)
	}
	if c.CrowdSec.Enabled() && c.Stages["bans"] == nil {
		v.add("crowdsec", "CrowdSec decisions are enforced by the ban stage: add a bans block (bans: {} enforces decisions without auto-banning)")
	}
	v.nonNegative("", reflect.ValueOf(c).Elem())
	v.stageBlocks("", reflect.ValueOf(c).Elem())
}

func (v *validator) listeners() {
	c := v.c
	hasTLS := false
	for _, l := range c.Listeners {
		if l.TLS != nil {
			hasTLS = true
		}
	}
	addrs := map[string]string{}
	for i, l := range c.Listeners {
		p := indexPath("listeners", i)
		if l.Addr == "" {
			v.add(p+".addr", "addr is required (expected host:port, e.g. \"0.0.0.0:8443\")")
		} else if v.hostPort(p+".addr", l.Addr) {
			if first, dup := addrs[l.Addr]; dup && !anyPort(l.Addr) {
				v.add(p+".addr", "%q is already used by %s%s", l.Addr, first, v.line(first+".addr"))
			} else {
				addrs[l.Addr] = p
			}
		}
		if l.TLS == nil {
			if l.RedirectHTTPS && !hasTLS {
				v.add(p+".redirect_https", "redirect_https needs a TLS listener to redirect to (add a listener with tls)")
			}
			if l.DisableHTTP2 {
				v.add(p+".disable_http2", "disable_http2 only applies to TLS listeners (plain listeners offer HTTP/2 only with h2c)")
			}
			continue
		}
		if l.RedirectHTTPS {
			v.add(p+".redirect_https", "redirect_https is only valid on a plain listener, not a TLS one")
		}
		if l.H2C {
			v.add(p+".h2c", "h2c is only valid on a plain listener (TLS listeners negotiate HTTP/2 with ALPN)")
		}
		v.tls(p+".tls", l.TLS)
	}
}

func (v *validator) tls(p string, t *TLS) {
	switch {
	case t.Dev && (t.Cert != "" || t.Key != ""):
		v.add(p+".dev", "dev: true cannot be combined with cert and key (use either a development certificate or your own)")
	case !t.Dev && t.Cert == "" && t.Key == "":
		v.add(p, "a TLS listener needs cert and key, or dev: true for a development certificate")
	case !t.Dev && t.Cert == "":
		v.add(p+".key", "key needs cert as well (the PEM certificate chain file)")
	case !t.Dev && t.Key == "":
		v.add(p+".cert", "cert needs key as well (the PEM private key file)")
	}
	v.file(p+".cert", t.Cert)
	v.file(p+".key", t.Key)
	v.file(p+".client_ca", t.ClientCA)
	switch t.MinVersion {
	case "", "1.2", "1.3":
	default:
		v.add(p+".min_version", "%q is not a supported TLS version (expected \"1.2\" or \"1.3\")", t.MinVersion)
	}
	switch t.ClientAuth {
	case "":
	case "required", "optional":
		if t.ClientCA == "" {
			v.add(p+".client_auth", "client_auth %q needs client_ca (the CAs that sign client certificates)", t.ClientAuth)
		}
	default:
		v.add(p+".client_auth", "%q is not a client_auth mode (expected \"required\" or \"optional\")", t.ClientAuth)
	}
}

// hostPort checks a listen address and reports whether it is valid.
func (v *validator) hostPort(p, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(p, "%q is not host:port (expected e.g. \"127.0.0.1:8080\", \":8443\" or \"[::1]:8080\")", addr)
		return false
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		v.add(p, "%q has an invalid port %q (expected a number from 0 to 65535)", addr, port)
		return false
	}
	if strings.ContainsAny(host, " /") {
		v.add(p, "%q has an invalid host %q (expected an IP address or a host name)", addr, host)
		return false
	}
	return true
}

// file checks that a referenced file exists and is a regular file.
func (v *validator) file(p, name string) {
	if name == "" {
		return
	}
	st, err := os.Stat(v.c.Path(name))
	switch {
	case err != nil && os.IsNotExist(err):
		v.add(p, "file %s does not exist", v.c.Path(name))
	case err != nil:
		v.add(p, "file %s: %v", v.c.Path(name), err)
	case st.IsDir():
		v.add(p, "%s is a directory (expected a file)", v.c.Path(name))
	}
}

func (v *validator) server() {
	s := &v.c.Server
	for i, cidr := range s.TrustedProxies {
		if _, err := pipeline.ParsePrefix(cidr); err != nil {
			v.add(indexPath("server.trusted_proxies", i), "%q is not a CIDR or an IP address (expected e.g. \"10.0.0.0/8\" or \"192.0.2.1\")", cidr)
		}
	}
	h := s.HSTS
	if h.Preload && !h.Disabled {
		if !h.IncludeSubdomains {
			v.add("server.hsts.preload", "preload requires include_subdomains: true (the preload list only accepts whole domains)")
		}
		if h.MaxAge < minPreloadMaxAge {
			v.add("server.hsts.max_age", "max_age %s is too short for preload (expected at least 8760h, one year)", h.MaxAge)
		}
	}
}

func (v *validator) api(i int, a *API, seen map[string]int) {
	p := indexPath("apis", i)
	switch {
	case a.Name == "":
		v.add(p+".name", "name is required (lowercase letters, digits, '-' and '_', e.g. \"users\")")
	case !apiNameRE.MatchString(a.Name):
		v.add(p+".name", "%q is not a valid API name (expected lowercase letters, digits, '-' and '_', starting with a letter or digit)", a.Name)
	default:
		if first, dup := seen[a.Name]; dup {
			v.add(p+".name", "duplicate API name %q: apis[%d] has it already%s", a.Name, first, v.line(indexPath("apis", first)+".name"))
		} else {
			seen[a.Name] = i
		}
	}
	for j, h := range a.Hosts {
		if h == "" || strings.ContainsAny(h, "/ ") || strings.Contains(h[min(1, len(h)):], "*") {
			v.add(indexPath(p+".hosts", j), "%q is not a host name (expected e.g. \"api.example.com\" or \"*.example.com\")", h)
		}
	}
	if !strings.HasPrefix(a.PathPrefix, "/") {
		v.add(p+".path_prefix", "%q does not start with \"/\" (expected e.g. \"/v1/\")", a.PathPrefix)
	}
	v.file(p+".openapi", a.OpenAPI)
	u := &a.Upstream
	if len(u.Targets) == 0 {
		v.add(p+".upstream.targets", "at least one target is required (expected a list of URLs such as \"http://127.0.0.1:9000\")")
	}
	for j, t := range u.Targets {
		v.target(indexPath(p+".upstream.targets", j), t)
	}
	if t := u.TLS; t != nil {
		tp := p + ".upstream.tls"
		v.file(tp+".ca", t.CA)
		v.file(tp+".cert", t.Cert)
		v.file(tp+".key", t.Key)
		if (t.Cert == "") != (t.Key == "") {
			if t.Cert == "" {
				v.add(tp+".key", "key needs cert as well (the PEM client certificate file)")
			} else {
				v.add(tp+".cert", "cert needs key as well (the PEM private key file)")
			}
		}
	}
	if h := u.HealthCheck; h != nil {
		hp := p + ".upstream.health_check"
		if !strings.HasPrefix(h.Path, "/") {
			v.add(hp+".path", "%q does not start with \"/\" (expected e.g. \"/healthz\")", h.Path)
		}
		if h.Timeout > 0 && h.Interval > 0 && h.Timeout > h.Interval {
			v.add(hp+".timeout", "timeout %s is longer than interval %s (a check must end before the next starts)", h.Timeout, h.Interval)
		}
	}
	if len(a.Operations) > 0 && a.OpenAPI != "" {
		v.add(p+".operations", "operations is for APIs without a description: %s declares this API's operations (remove operations, or openapi)", a.OpenAPI)
	}
	for j, op := range a.Operations {
		if _, _, err := openapi.ParseOperationKey(op); err != nil {
			v.add(indexPath(p+".operations", j), "%v", err)
		}
	}
}

func (v *validator) target(p, raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		v.add(p, "%q is not a URL (expected e.g. \"http://127.0.0.1:9000\" or \"https://users.internal:8443\")", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		v.add(p, "%q is not an absolute http or https URL (expected e.g. \"http://127.0.0.1:9000\")", raw)
	case u.Host == "" || u.Hostname() == "":
		v.add(p, "%q has no host (expected e.g. \"http://127.0.0.1:9000\")", raw)
	case u.User != nil:
		v.add(p, "%q holds credentials: they would end up in logs (configure upstream authentication elsewhere)", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		v.add(p, "%q has a query or fragment (expected a base URL: scheme, host, port and optional path)", raw)
	}
}

// nonNegative reports negative durations and counts in this package's own
// types (stage blocks decide what their negative values mean).
func (v *validator) nonNegative(p string, rv reflect.Value) {
	switch rv.Kind() {
	case reflect.Pointer:
		if !rv.IsNil() {
			v.nonNegative(p, rv.Elem())
		}
	case reflect.Slice:
		for i := 0; i < rv.Len(); i++ {
			v.nonNegative(indexPath(p, i), rv.Index(i))
		}
	case reflect.Struct:
		if rv.Type().PkgPath() != ownPkg {
			return
		}
		for _, f := range fieldsOf(rv.Type()) {
			v.nonNegative(childPath(p, f.name), f.get(rv))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if rv.Int() >= 0 {
			return
		}
		if rv.Type() == durationType {
			v.add(p, "%s is negative (expected a duration of 0 or more)", time.Duration(rv.Int()))
			return
		}
		v.add(p, "%d is negative (expected 0 or more)", rv.Int())
	}
}

var ownPkg = reflect.TypeFor[Config]().PkgPath()

// stageBlocks calls Validate on every block (outside this package) that
// has one, and maps its relative paths to positions.
func (v *validator) stageBlocks(p string, rv reflect.Value) {
	switch rv.Kind() {
	case reflect.Pointer:
		if !rv.IsNil() {
			v.stageBlocks(p, rv.Elem())
		}
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Struct || rv.Type().Elem().Kind() == reflect.Pointer {
			for i := 0; i < rv.Len(); i++ {
				v.stageBlocks(indexPath(p, i), rv.Index(i))
			}
		}
	case reflect.Struct:
		if rv.Type().PkgPath() != ownPkg {
			if rv.CanAddr() {
				if fv, ok := rv.Addr().Interface().(fieldValidator); ok {
					v.probs = append(v.probs, v.src.FieldProblems(p, fv.Validate())...)
				}
			}
			return
		}
		for _, f := range fieldsOf(rv.Type()) {
			v.stageBlocks(childPath(p, f.name), f.get(rv))
		}
	}
}

// anyPort reports whether addr asks for any free port (":0"); two such
// addresses never collide.
func anyPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}
