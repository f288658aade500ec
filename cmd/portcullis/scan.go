package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/scan"
	"github.com/portcullis/portcullis/internal/scan/report"
)

// usageError makes a scan usage problem exit with code 2.
func usageError(err error) error { return &exitError{code: 2, err: err} }

func newScan() *cobra.Command {
	var (
		configFile, formats, failOn, apiKeyHeader string
		auth, auth2, checks                       []string
		include, exclude, allowDangerous          []string
		apiKey, apiKey2                           string
		quiet, showBlocked                        bool
		c                                         scan.Config
	)
	cmd := &cobra.Command{
		Use:   "scan --spec FILE|URL --target URL",
		Short: "Test a live API from its OpenAPI description (security, functional and load tests)",
		Long: `Read an OpenAPI description, build valid requests for every operation and
attack the API at --target the way a penetration tester would: functional
conformance, injection, authentication and JWT, authorization (BOLA, BFLA),
property-level, resource consumption, misconfiguration, SSRF and (when asked
for with --checks performance) a load test. Findings go to the terminal and
to report files in --out.

Every request goes through one budget: --rate requests per second and
--max-requests in total are never exceeded. Without --allow-destructive the
scanner never sends DELETE, PUT or PATCH and never changes existing objects.
Operations whose id, path or summary say they destroy state wholesale
(reset, createdb, drop, purge, delete-all, truncate…) are never sent, whatever
their method, unless --allow-dangerous names them. --include and --exclude
select operations by operationId, 'METHOD /path' (globs allowed) or tag:NAME.
It sends requests only to --target (and its own loopback SSRF canary). The
report lists what the scan changed on the target.

Exit codes: 0 no finding (that a gateway did not block) at or above
--fail-on, which is high unless told otherwise (--fail-on none never fails);
1 a finding reached it; 2 usage, config, description or login error.`,
		Example: `  portcullis demo --vulnerable &
  portcullis scan --config examples/scan/lab.yaml --out report
  portcullis scan --spec openapi.yaml --target http://127.0.0.1:8081 \
      --auth 'Authorization: Bearer eyJ...' --auth2 'Authorization: Bearer eyJ...' \
      --checks all,-resource --rate 20 --max-requests 5000 --out report --format json,sarif,html --fail-on high`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := scan.Config{}
			if configFile != "" {
				fc, err := scan.LoadConfig(configFile)
				if err != nil {
					return usageError(err)
				}
				cfg = *fc
			}
			f := cmd.Flags()
			set := func(name string, apply func()) {
				if f.Changed(name) || configFile == "" {
					apply()
				}
			}
			set("spec", func() { cfg.Spec = c.Spec })
			set("target", func() { cfg.Target = c.Target })
			set("rate", func() { cfg.Rate = c.Rate })
			set("max-requests", func() { cfg.MaxRequests = c.MaxRequests })
			set("allow-destructive", func() { cfg.AllowDestructive = c.AllowDestructive })
			set("allow-load-non-loopback", func() { cfg.AllowLoadNonLoopback = c.AllowLoadNonLoopback })
			set("out", func() { cfg.Out = c.Out })
			set("timeout", func() { cfg.Timeout = c.Timeout })
			set("time-delay", func() { cfg.TimeDelay = c.TimeDelay })
			set("concurrency", func() { cfg.Concurrency = c.Concurrency })
			set("perf-rate", func() { cfg.Performance.Rate = c.Performance.Rate })
			set("perf-duration", func() { cfg.Performance.Duration = c.Performance.Duration })
			set("perf-max-p99", func() { cfg.Performance.MaxP99 = c.Performance.MaxP99 })
			if f.Changed("include") {
				cfg.Include = include
			}
			if f.Changed("exclude") {
				cfg.Exclude = exclude
			}
			if f.Changed("allow-dangerous") {
				cfg.AllowDangerous = allowDangerous
			}
			if f.Changed("checks") {
				cfg.Checks = checks
			}
			if f.Changed("format") {
				fs, err := report.ParseFormats(formats)
				if err != nil {
					return usageError(err)
				}
				cfg.Formats = fs
			}
			switch {
			case f.Changed("fail-on"):
				cfg.FailOn = scan.Severity(strings.ToLower(failOn))
			case cfg.FailOn == "":
				// The default gate: a scan in CI fails on high findings
				// unless told otherwise.
				cfg.FailOn = scan.SeverityHigh
			}
			for i, creds := range []struct {
				headers []string
				key     string
			}{{auth, apiKey}, {auth2, apiKey2}} {
				if len(creds.headers) == 0 && creds.key == "" {
					continue
				}
				for len(cfg.Identities) <= i {
					cfg.Identities = append(cfg.Identities, scan.Identity{})
				}
				id := &cfg.Identities[i]
				if id.Headers == nil {
					id.Headers = map[string]string{}
				}
				for _, h := range creds.headers {
					k, v, ok := strings.Cut(h, ":")
					if !ok || strings.TrimSpace(k) == "" {
						return usageError(fmt.Errorf("--auth %q: want 'Header: value'", h))
					}
					id.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
				}
				if creds.key != "" {
					id.Headers[apiKeyHeader] = creds.key
				}
			}
			if len(cfg.Identities) == 1 && len(auth2) > 0 {
				return usageError(errors.New("--auth2 needs --auth"))
			}
			if err := cfg.Validate(); err != nil {
				return usageError(err)
			}
			return runScan(cmd, cfg, quiet, showBlocked)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&configFile, "config", "c", "", "scan config file (scan.yaml); flags given as well override it")
	f.StringVar(&c.Spec, "spec", "", "OpenAPI description: file path or http(s) URL (required)")
	f.StringVar(&c.Target, "target", "", "base URL of the API to scan, http:// or https:// (required)")
	f.StringArrayVar(&auth, "auth", nil, "header of identity 1, 'Header: value' (repeatable)")
	f.StringArrayVar(&auth2, "auth2", nil, "header of identity 2 for cross-identity (BOLA) tests (repeatable)")
	f.StringVar(&apiKey, "api-key", "", "API key of identity 1, sent in --api-key-header")
	f.StringVar(&apiKey2, "api-key2", "", "API key of identity 2, sent in --api-key-header")
	f.StringVar(&apiKeyHeader, "api-key-header", "X-Api-Key", "header that carries --api-key and --api-key2")
	f.StringSliceVar(&checks, "checks", nil, "check groups: names to include, -name to exclude (all = every group but performance): "+strings.Join(scan.Groups, ","))
	f.Float64Var(&c.Rate, "rate", 0, "most requests per second, everything included (0: unlimited)")
	f.IntVar(&c.MaxRequests, "max-requests", 0, "most requests in total (0: unlimited)")
	f.BoolVar(&c.AllowDestructive, "allow-destructive", false, "allow DELETE, PUT, PATCH and changes to existing objects")
	f.BoolVar(&c.AllowLoadNonLoopback, "allow-load-non-loopback", false, "allow the load test against a target that is not loopback")
	f.StringVar(&c.Out, "out", "", "directory for report files (none when empty)")
	f.StringVar(&formats, "format", "json", "report formats: json,sarif,junit,html or all")
	f.StringVar(&failOn, "fail-on", "high", "exit 1 when a finding that was not blocked reaches this severity: info, low, medium, high, critical, or none to never fail")
	f.StringArrayVar(&include, "include", nil, "scan only these operations: operationId, 'METHOD /path' (globs), '/path' or tag:NAME (repeatable)")
	f.StringArrayVar(&exclude, "exclude", nil, "do not send these operations (same forms as --include; repeatable)")
	f.StringArrayVar(&allowDangerous, "allow-dangerous", nil, "let these destructive-looking operations (reset, createdb, drop…) run (same forms; repeatable)")
	f.BoolVar(&showBlocked, "show-blocked", false, "list every finding a security gateway blocked (default: one summary line)")
	f.DurationVar(&c.Timeout, "timeout", 0, "timeout of one request (0: 15s)")
	f.DurationVar(&c.TimeDelay, "time-delay", 0, "delay time-based probes ask for (0: 2s; at least 1s)")
	f.IntVar(&c.Concurrency, "concurrency", 0, "operations probed at once (0: 4)")
	f.IntVar(&c.Performance.Rate, "perf-rate", 0, "load test requests per second (0: 50)")
	f.DurationVar(&c.Performance.Duration, "perf-duration", 0, "load test duration (0: 5s)")
	f.DurationVar(&c.Performance.MaxP99, "perf-max-p99", 0, "load test pass threshold for p99 latency (0: 500ms)")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

func runScan(cmd *cobra.Command, cfg scan.Config, quiet, showBlocked bool) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The bar counts requests (its rate is requests per second): towards
	// --max-requests when there is one, else as a spinner.
	bar := report.NewProgress(cmd.ErrOrStderr(), cfg.MaxRequests, !quiet)
	rep, err := scan.Run(ctx, cfg, scan.Options{
		OnRequest: func() { bar.Add(1) },
		Progress: func(p scan.Progress) {
			bar.Describe(fmt.Sprintf("%-16s %d/%d groups, %d findings", p.Group, min(p.Step, p.Steps), p.Steps, p.Findings))
		},
	})
	bar.Finish()
	if err != nil {
		return usageError(err)
	}
	out := cmd.OutOrStdout()
	if err := report.SummaryWith(out, rep, report.SummaryOptions{ShowBlocked: showBlocked}); err != nil {
		return err
	}
	if cfg.Out != "" {
		formats := cfg.Formats
		if len(formats) == 0 {
			formats = []string{report.FormatJSON}
		}
		opts := report.Options{SpecPath: cfg.Spec, ToolVersion: version}
		if data, err := os.ReadFile(cfg.Spec); err == nil {
			opts.SpecSource = data
		}
		paths, err := report.Write(cfg.Out, formats, rep, opts)
		if err != nil {
			return err
		}
		for _, p := range paths {
			fmt.Fprintln(out, "wrote", p)
		}
	}
	if cfg.FailOn != "" && cfg.FailOn != scan.FailNever && report.ExitCode(rep, cfg.FailOn) != 0 {
		return &exitError{code: 1, err: fmt.Errorf("findings at or above %s", cfg.FailOn)}
	}
	return nil
}
