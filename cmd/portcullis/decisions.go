package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/decision"
)

// newDecisions is `portcullis decisions`: list, add and delete the
// decisions (bans and throttles) of a running gateway through its admin
// API, so that they reach every node sharing its store and are audited as
// events like any other decision.
func newDecisions() *cobra.Command {
	var file, adminURL, token string
	cmd := &cobra.Command{
		Use:   "decisions",
		Short: "List, add and delete decisions (bans, throttles) of a running gateway",
		Long: `Manage the decisions of a running gateway through its admin API: bans and
throttles on an ip, a range, a principal or an API key. A decision reaches
every node that shares the gateway's store, and each one taken or deleted is
published as a "decision" event (the audit log chains them).

The admin address and token come from --admin and --token (or the
PORTCULLIS_ADMIN_TOKEN environment variable), or from the config file given
with -c.`,
	}
	cmd.PersistentFlags().StringVarP(&file, "config", "c", "", "config file to read admin.addr and admin.token from")
	cmd.PersistentFlags().StringVar(&adminURL, "admin", "", "admin base URL (default http://ADMIN_ADDR from the config, else http://127.0.0.1:9901)")
	cmd.PersistentFlags().StringVar(&token, "token", "", "admin bearer token (default $PORTCULLIS_ADMIN_TOKEN or admin.token from the config)")
	client := func() (*adminClient, error) {
		c := &adminClient{base: adminURL, token: token, http: &http.Client{Timeout: 10 * time.Second}}
		if c.token == "" {
			c.token = os.Getenv("PORTCULLIS_ADMIN_TOKEN")
		}
		if file != "" {
			cfg, err := config.Load(file)
			if err != nil {
				return nil, err
			}
			if c.base == "" {
				c.base = "http://" + cfg.Admin.Addr
			}
			if c.token == "" {
				c.token = cfg.Admin.Token
			}
		}
		if c.base == "" {
			c.base = "http://127.0.0.1:9901"
		}
		c.base = strings.TrimRight(c.base, "/")
		if c.token == "" {
			return nil, errors.New("no admin token: pass --token, set PORTCULLIS_ADMIN_TOKEN, or -c a config with admin.token")
		}
		return c, nil
	}

	var jsonOut bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the decisions in force",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			var out struct {
				Decisions []admin.DecisionView `json:"decisions"`
			}
			if err := c.do("GET", "/api/v1/decisions", nil, &out); err != nil {
				return err
			}
			if jsonOut {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out.Decisions)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "KEY\tTYPE\tORIGIN\tUNTIL\tSTRIKES\tREASON")
			for _, d := range out.Decisions {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", d.Key, d.Type, d.Origin, d.Until.Format(time.RFC3339), d.Strikes, d.Reason)
			}
			return w.Flush()
		},
	}
	list.Flags().BoolVar(&jsonOut, "json", false, "print JSON")

	var in admin.AddDecision
	add := &cobra.Command{
		Use:   "add --scope ip|range|principal|apikey --value VALUE",
		Short: "Take a decision (a ban by default)",
		Example: `  portcullis decisions add -c portcullis.yaml --scope ip --value 203.0.113.7 --duration 4h --reason "credential stuffing"
  portcullis decisions add --token T --scope range --value 198.51.100.0/24 --type throttle`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in.Scope == "" || in.Value == "" {
				return errors.New("--scope and --value are required")
			}
			if _, err := decision.Validate(in.Scope, in.Value, in.Type); err != nil {
				return err
			}
			c, err := client()
			if err != nil {
				return err
			}
			in.Origin = "cli"
			var out struct {
				Decision admin.DecisionView `json:"decision"`
			}
			if err := c.do("POST", "/api/v1/decisions", in, &out); err != nil {
				return err
			}
			d := out.Decision
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s until %s (strikes %d)\n", d.Type, d.Key, d.Until.Format(time.RFC3339), d.Strikes)
			return nil
		},
	}
	add.Flags().StringVar(&in.Scope, "scope", "", "ip, range, principal or apikey")
	add.Flags().StringVar(&in.Value, "value", "", "the address, network, principal id or API key id")
	add.Flags().StringVar(&in.Type, "type", "ban", "ban or throttle")
	add.Flags().StringVar(&in.Duration, "duration", "", "how long (Go duration: 90s, 4h); default bans.duration, escalated for repeat offenders")
	add.Flags().StringVar(&in.Reason, "reason", "taken by an operator", "why (shown to the refused client and in the event)")

	del := &cobra.Command{
		Use:     "delete SCOPE:VALUE",
		Aliases: []string{"rm"},
		Short:   "Delete the decision on a key (ip:203.0.113.7, principal:alice)",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			var out struct {
				WasActive bool `json:"was_active"`
			}
			if err := c.do("DELETE", "/api/v1/decisions/"+url.PathEscape(args[0]), nil, &out); err != nil {
				return err
			}
			if out.WasActive {
				fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", args[0])
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "no decision was in force on %s\n", args[0])
			}
			return nil
		},
	}
	cmd.AddCommand(list, add, del)
	return cmd
}

// adminClient calls a gateway's admin API.
type adminClient struct {
	base, token string
	http        *http.Client
}

func (c *adminClient) do(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode/100 != 2 {
		var p struct {
			Detail string `json:"detail"`
		}
		if json.Unmarshal(b, &p) == nil && p.Detail != "" {
			return fmt.Errorf("admin API %s %s: %d: %s", method, path, resp.StatusCode, p.Detail)
		}
		return fmt.Errorf("admin API %s %s: %d", method, path, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("admin API %s %s: %w", method, path, err)
	}
	return nil
}
