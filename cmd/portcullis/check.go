package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/gateway"
)

func newCheck() *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "check -c FILE [-c FILE...]",
		Short: "Validate config files",
		Long: `Validate config files and print every problem as FILE:LINE:COLUMN: message.
Exit code 0 when all files are valid, 1 otherwise.`,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			files = append(files, args...)
			if len(files) == 0 {
				files = []string{"portcullis.yaml"}
			}
			bad := 0
			for _, f := range files {
				cfg, err := config.Load(f)
				if err != nil {
					bad++
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					continue
				}
				if err := gateway.Check(cfg); err != nil {
					bad++
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", f, withTempDirHint(err))
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d APIs, %d listeners)\n", f, len(cfg.APIs), len(cfg.Listeners))
			}
			if bad > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d of %d config files have problems", bad, len(files))}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&files, "config", "c", nil, "config file (repeatable)")
	return cmd
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Config file tools"}
	cmd.AddCommand(&cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the config file (for editors)",
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := config.Schema()
			if err != nil {
				return err
			}
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				return err
			}
			out, _ := json.MarshalIndent(v, "", "  ")
			fmt.Fprintln(cmd.OutOrStdout(), string(out))
			return nil
		},
	})
	return cmd
}
