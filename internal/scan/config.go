package scan

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Groups are the check groups, in the order they run.
var Groups = []string{
	"functional", "injection", "authentication", "authorization", "property",
	"resource", "misconfiguration", "ssrf", "performance",
}

// FailNever as FailOn turns the exit-code gate off.
const FailNever Severity = "none"

// defaultOff are the groups that only run when named explicitly: the load
// test sends many requests and is a different kind of test.
var defaultOff = []string{"performance"}

// Config is a scan: what to scan, with which credentials, which checks and
// within which budgets. It is what `portcullis scan` builds from its flags
// or reads from a scan.yaml (LoadConfig); the two are equivalent.
type Config struct {
	// Spec is the OpenAPI description: a file path or an http(s) URL.
	// Required.
	Spec string `yaml:"spec" json:"spec"`
	// Target is the base URL of the API to scan (http or https). Required.
	// The scanner sends requests to this origin only (plus its own
	// loopback canary for SSRF probes).
	Target string `yaml:"target" json:"target"`
	// Identities are up to two sets of credentials. The first is the main
	// identity; the second is used for cross-identity tests (BOLA). Empty:
	// the scan runs unauthenticated.
	Identities []Identity `yaml:"identities,omitempty" json:"identities,omitempty"`
	// Checks selects check groups: group names to include, or names
	// prefixed with "-" to exclude from the default set ("all" is every
	// group but performance). Empty: the default set.
	Checks []string `yaml:"checks,omitempty" json:"checks,omitempty"`
	// Rate is the most requests per second the scanner sends, everything
	// included. Default 0: unlimited.
	Rate float64 `yaml:"rate,omitempty" json:"rate,omitempty"`
	// MaxRequests is the most requests the scan sends in total; checks
	// that would exceed it are cut short. Default 0: unlimited.
	MaxRequests int `yaml:"max_requests,omitempty" json:"max_requests,omitempty"`
	// AllowDestructive permits DELETE requests and state-changing probes
	// (PUT, PATCH) on existing objects. Default false: the scanner only
	// reads and creates.
	AllowDestructive bool `yaml:"allow_destructive,omitempty" json:"allow_destructive,omitempty"`
	// Include, when set, limits the scan to the operations it selects: an
	// operationId ("createNote"), "METHOD /path" ("POST /notes", globs
	// allowed: "* /admin/*"), a path alone ("/notes/{id}") or "tag:NAME".
	// Default empty: every operation.
	Include []string `yaml:"include,omitempty" json:"include,omitempty"`
	// Exclude removes the operations it selects (same forms as Include)
	// from the scan. Default empty.
	Exclude []string `yaml:"exclude,omitempty" json:"exclude,omitempty"`
	// AllowDangerous lets the operations it selects run although their id,
	// path or summary says they destroy or rebuild state wholesale (reset,
	// createdb, drop, purge, delete-all, truncate…). Such operations are
	// skipped whatever their method, even with AllowDestructive: a GET
	// that recreates the database would wipe the objects and accounts the
	// scan relies on. Default empty: none runs.
	AllowDangerous []string `yaml:"allow_dangerous,omitempty" json:"allow_dangerous,omitempty"`
	// AllowLoadNonLoopback permits the performance load test against a
	// target that is not on a loopback address. Default false.
	AllowLoadNonLoopback bool `yaml:"allow_load_non_loopback,omitempty" json:"allow_load_non_loopback,omitempty"`
	// Out is the directory reports are written to. Default "" : no report
	// files, only the terminal summary.
	Out string `yaml:"out,omitempty" json:"out,omitempty"`
	// Formats are the report formats written to Out: json, sarif, junit,
	// html. Default: json.
	Formats []string `yaml:"formats,omitempty" json:"formats,omitempty"`
	// FailOn is the severity from which findings that were not blocked
	// make the scan fail (exit code 1): info, low, medium, high, critical,
	// or none. Default "": the CLI fails on high (FailNever turns the gate
	// off); Run itself never exits.
	FailOn Severity `yaml:"fail_on,omitempty" json:"fail_on,omitempty"`
	// Timeout bounds one request. Default 15s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// TimeDelay is the delay time-based probes ask for (SQL sleep, OS
	// sleep). A probe counts only when the answer is at least 80% of it
	// slower than a calibrated baseline, twice. Default 2s; below 1s is
	// refused because a loaded machine makes it unreliable.
	TimeDelay time.Duration `yaml:"time_delay,omitempty" json:"time_delay,omitempty"`
	// Concurrency is how many operations are probed at once. Default 4.
	Concurrency int `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
	// Burst is how many requests the rate-limit checks send to one
	// operation (and to the login operation). Default 30.
	Burst int `yaml:"burst,omitempty" json:"burst,omitempty"`
	// LargeBody is the size in bytes of the large-body probe. Default
	// 1048576 (1 MiB).
	LargeBody int `yaml:"large_body,omitempty" json:"large_body,omitempty"`
	// Canary is the SSRF canary listener.
	Canary Canary `yaml:"canary,omitempty" json:"canary,omitempty"`
	// Performance configures the load test (group "performance").
	Performance PerfConfig `yaml:"performance,omitempty" json:"performance,omitempty"`
}

// Identity is one set of credentials.
type Identity struct {
	// Name labels the identity in findings ("alice"). Default "identity
	// 1"/"identity 2".
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Headers are sent with every request of this identity
	// ("Authorization: Bearer …", "X-Api-Key: …").
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// Login, when set, is called before the scan to obtain a token.
	Login *Login `yaml:"login,omitempty" json:"login,omitempty"`
}

// Login is an operation called before the scan whose answer holds a token.
type Login struct {
	// Operation is the login operation: an operationId or "METHOD /path".
	// Required.
	Operation string `yaml:"operation" json:"operation"`
	// Body is the JSON request body ({"username": "alice", "password": …}).
	Body map[string]any `yaml:"body,omitempty" json:"body,omitempty"`
	// Token is the JSON pointer of the token in the answer. Default "/token".
	Token string `yaml:"token,omitempty" json:"token,omitempty"`
	// Header is the header that carries the token. Default "Authorization".
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
	// Prefix is put before the token in Header. Default "Bearer " when
	// Header is Authorization, else "".
	Prefix *string `yaml:"prefix,omitempty" json:"prefix,omitempty"`
}

// Canary configures the listener SSRF probes point at.
type Canary struct {
	// Listen is the address the canary listens on. Default "127.0.0.1:0"
	// (loopback, a free port): it is reachable only when the target runs on
	// the same host.
	Listen string `yaml:"listen,omitempty" json:"listen,omitempty"`
	// URL is the base URL the target should fetch, when the canary is
	// reachable under another name (a container host). Default "": the
	// listener's own address.
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
}

// PerfConfig configures the load test.
type PerfConfig struct {
	// Rate is the load in requests per second (capped by Config.Rate).
	// Default 50.
	Rate int `yaml:"rate,omitempty" json:"rate,omitempty"`
	// Duration is how long the load runs. Default 5s.
	Duration time.Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
	// MaxP99 is the pass threshold of the 99th percentile latency.
	// Default 500ms.
	MaxP99 time.Duration `yaml:"max_p99,omitempty" json:"max_p99,omitempty"`
	// MaxErrorRate is the pass threshold of the share of failed requests
	// (non-2xx/3xx or transport errors), 0..1. Default 0.01.
	MaxErrorRate float64 `yaml:"max_error_rate,omitempty" json:"max_error_rate,omitempty"`
}

// LoadConfig reads a scan.yaml. Decoding is strict: unknown keys and wrong
// types are errors with their line and column. Relative spec and out paths
// are resolved against the file's directory.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading scan config: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dir := dirOf(path)
	if c.Spec != "" && !isURL(c.Spec) && !isAbs(c.Spec) {
		c.Spec = dir + c.Spec
	}
	if c.Out != "" && !isAbs(c.Out) {
		c.Out = dir + c.Out
	}
	return c, nil
}

// ParseConfig decodes a scan config document strictly.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	if err := yaml.UnmarshalWithOptions(data, &c, yaml.Strict()); err != nil {
		return nil, errors.New(yaml.FormatError(err, false, true))
	}
	return &c, nil
}

func dirOf(p string) string {
	i := strings.LastIndexAny(p, `/\`)
	if i < 0 {
		return ""
	}
	return p[:i+1]
}

func isAbs(p string) bool { return strings.HasPrefix(p, "/") || len(p) > 1 && p[1] == ':' }

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// withDefaults returns a copy with every zero default filled in.
func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = 15 * time.Second
	}
	if c.TimeDelay == 0 {
		c.TimeDelay = 2 * time.Second
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	if c.Burst == 0 {
		c.Burst = 30
	}
	if c.LargeBody == 0 {
		c.LargeBody = 1 << 20
	}
	if c.Canary.Listen == "" {
		c.Canary.Listen = "127.0.0.1:0"
	}
	if len(c.Formats) == 0 {
		c.Formats = []string{"json"}
	}
	p := &c.Performance
	if p.Rate == 0 {
		p.Rate = 50
	}
	if p.Duration == 0 {
		p.Duration = 5 * time.Second
	}
	if p.MaxP99 == 0 {
		p.MaxP99 = 500 * time.Millisecond
	}
	if p.MaxErrorRate == 0 {
		p.MaxErrorRate = 0.01
	}
	return c
}

// Validate reports every problem of the config (a usage error: exit code
// 2 in the CLI).
func (c *Config) Validate() error {
	var errs []error
	if c.Spec == "" {
		errs = append(errs, errors.New("spec is required"))
	}
	if c.Target == "" {
		errs = append(errs, errors.New("target is required"))
	} else if u, err := url.Parse(c.Target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("target %q must be an http:// or https:// URL", c.Target))
	}
	if len(c.Identities) > 2 {
		errs = append(errs, errors.New("at most two identities"))
	}
	for i, id := range c.Identities {
		if id.Login != nil && id.Login.Operation == "" {
			errs = append(errs, fmt.Errorf("identities[%d].login.operation is required", i))
		}
	}
	for field, sels := range map[string][]string{"include": c.Include, "exclude": c.Exclude, "allow_dangerous": c.AllowDangerous} {
		for _, s := range sels {
			if err := validSelector(s); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", field, err))
			}
		}
	}
	if _, err := SelectGroups(c.Checks); err != nil {
		errs = append(errs, err)
	}
	if c.Rate < 0 {
		errs = append(errs, errors.New("rate must not be negative"))
	}
	if c.MaxRequests < 0 {
		errs = append(errs, errors.New("max_requests must not be negative"))
	}
	for _, f := range c.Formats {
		if !slices.Contains([]string{"json", "sarif", "junit", "html"}, f) {
			errs = append(errs, fmt.Errorf("format %q is not one of json, sarif, junit, html", f))
		}
	}
	if c.FailOn != "" && c.FailOn != FailNever && c.FailOn.Rank() < 0 {
		errs = append(errs, fmt.Errorf("fail_on %q is not one of info, low, medium, high, critical, none", c.FailOn))
	}
	if c.TimeDelay != 0 && c.TimeDelay < time.Second {
		errs = append(errs, errors.New("time_delay must be at least 1s"))
	}
	if c.Timeout < 0 || c.Concurrency < 0 || c.Burst < 0 || c.LargeBody < 0 {
		errs = append(errs, errors.New("timeout, concurrency, burst and large_body must not be negative"))
	}
	if c.Performance.MaxErrorRate < 0 || c.Performance.MaxErrorRate > 1 {
		errs = append(errs, errors.New("performance.max_error_rate must be from 0 to 1"))
	}
	return errors.Join(errs...)
}

// SelectGroups turns a --checks list into the groups to run, in run order.
// Empty or "all" is every group but performance; "x,y" is only those;
// "-x" removes x from the default set (or from the named ones).
func SelectGroups(spec []string) ([]string, error) {
	var include, exclude []string
	for _, s := range spec {
		for _, g := range strings.Split(s, ",") {
			g = strings.TrimSpace(g)
			if g == "" {
				continue
			}
			neg := strings.HasPrefix(g, "-")
			g = strings.TrimPrefix(g, "-")
			if g != "all" && !slices.Contains(Groups, g) {
				return nil, fmt.Errorf("unknown check group %q (known: all, %s)", g, strings.Join(Groups, ", "))
			}
			if neg {
				exclude = append(exclude, g)
			} else {
				include = append(include, g)
			}
		}
	}
	var out []string
	for _, g := range Groups {
		in := len(include) == 0 && !slices.Contains(defaultOff, g) ||
			slices.Contains(include, g) ||
			slices.Contains(include, "all") && !slices.Contains(defaultOff, g)
		if in && !slices.Contains(exclude, g) && !slices.Contains(exclude, "all") {
			out = append(out, g)
		}
	}
	return out, nil
}

// isLoopbackHost reports whether host (no port) is a loopback name or
// address.
func isLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
