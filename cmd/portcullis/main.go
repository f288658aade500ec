// Command portcullis is an API security gateway and API security tester.
//
//	portcullis demo                 run the demo API behind the gateway (no files needed)
//	portcullis serve -c FILE        run the gateway
//	portcullis check -c FILE        validate a config file
//	portcullis scan --spec --target test a live API from its OpenAPI description
//	portcullis keys create|list|revoke|rotate --file FILE   manage API keys
//	portcullis decisions list|add|delete   manage bans and throttles of a running gateway
//	portcullis config schema        print the config's JSON Schema
//	portcullis init --openapi FILE  write a starting config from an OpenAPI description
//	portcullis healthcheck          probe the admin listener's /healthz (container health checks)
//	portcullis version              print version, commit, build date and Go version
package main

import (
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		os.Exit(exitCode(err))
	}
}

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 1
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "portcullis",
		Short:         "API security gateway and API security tester",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.Version = readBuildInfo().String()
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newServe(), newCheck(), newConfigCmd(), newDemo(), newKeys(), newScan(), newDecisions(), newAudit(), newInit(), newHealthcheck(), newVersion())
	return root
}
