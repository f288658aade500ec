package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/gateway"
)

func newServe() *cobra.Command {
	var file string
	var noWatch bool
	cmd := &cobra.Command{
		Use:   "serve -c FILE",
		Short: "Run the gateway",
		Long: `Run the gateway with a YAML config file.

The config reloads on SIGHUP and when the file changes; a bad new config is
refused and the old one keeps serving. SIGINT/SIGTERM shut down gracefully.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(file)
			if err != nil {
				return err
			}
			srv, err := gateway.NewServer(cfg, gateway.Options{WatchConfig: !noWatch})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return srv.Run(ctx)
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "portcullis.yaml", "config file")
	cmd.Flags().BoolVar(&noWatch, "no-watch", false, "do not reload when the config file changes (SIGHUP still reloads)")
	return cmd
}
