package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/config"
)

// newHealthcheck is `portcullis healthcheck`: a probe for container health
// checks, which have no curl in a FROM scratch image. It asks the admin
// listener's /healthz (or --path) and exits 0 on 200, 1 otherwise.
func newHealthcheck() *cobra.Command {
	var file, url, path string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck [-c FILE | --url URL]",
		Short: "Probe the admin listener's /healthz (for container health checks)",
		Long: `Send GET /healthz to the admin listener and exit 0 when it answers 200,
1 otherwise. The address comes from --url, or from admin.addr in the config
file (a wildcard host such as 0.0.0.0 is probed on loopback), or is the
default 127.0.0.1:9901 when the file does not exist.`,
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if url == "" {
				addr, err := adminAddrOf(file, cmd.Flags().Changed("config"))
				if err != nil {
					return &exitError{code: 1, err: err}
				}
				url = "http://" + addr + path
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "unhealthy:", err)
				return &exitError{code: 1, err: err}
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				fmt.Fprintf(cmd.ErrOrStderr(), "unhealthy: %s answered %d %s\n", url, resp.StatusCode, body)
				return &exitError{code: 1, err: fmt.Errorf("%s answered %d", url, resp.StatusCode)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "healthy: %s %s", url, body)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "portcullis.yaml", "config file whose admin.addr is probed")
	cmd.Flags().StringVar(&url, "url", "", "probe this URL instead (overrides --config and --path)")
	cmd.Flags().StringVar(&path, "path", "/healthz", "admin path to probe (/healthz: alive; /readyz: serving)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	return cmd
}

// adminAddrOf returns the admin address to probe from the config file. A
// missing file is the default address unless the file was named
// explicitly; an admin listener that is disabled is an error.
func adminAddrOf(file string, explicit bool) (string, error) {
	cfg, err := config.Load(file)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return "127.0.0.1:9901", nil
		}
		return "", err
	}
	if cfg.Admin.Disabled {
		return "", errors.New("admin.disabled is true: there is no admin listener to probe")
	}
	host, port, err := net.SplitHostPort(cfg.Admin.Addr)
	if err != nil {
		return "", fmt.Errorf("admin.addr %q: %w", cfg.Admin.Addr, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port), nil
}
