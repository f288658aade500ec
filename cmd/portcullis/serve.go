package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

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
refused and the old one keeps serving. SIGUSR1 reopens the access log and the
events file under their names (for logrotate). SIGINT/SIGTERM shut down
gracefully: listeners stop accepting, in-flight requests get
server.shutdown_timeout to finish, queued events are written.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(file)
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log.Level)
			opts := gateway.Options{Logger: log, WatchConfig: !noWatch}
			// A file access log is opened here, not by the gateway, so
			// that SIGUSR1 can reopen it.
			var access *logFile
			if dest := cfg.Log.Access; dest != "" && dest != "stdout" && dest != "stderr" && dest != "off" {
				if access, err = openLogFile(dest); err != nil {
					return err
				}
				defer access.Close()
				opts.AccessWriter = access
			}
			srv, err := gateway.NewServer(cfg, opts)
			if err != nil {
				return withTempDirHint(err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			usr1 := make(chan os.Signal, 1)
			signal.Notify(usr1, syscall.SIGUSR1)
			defer signal.Stop(usr1)
			go func() {
				for {
					select {
					case <-ctx.Done():
						log.Info("shutting down", "signal", "interrupt or terminate",
							"shutdown_timeout", cfg.Server.ShutdownTimeout.String())
						return
					case <-usr1:
						reopenLogs(log, access, srv)
					}
				}
			}()
			start := time.Now()
			err = srv.Run(ctx)
			if ctx.Err() != nil {
				attrs := []any{"uptime", time.Since(start).Round(time.Second).String()}
				if err != nil {
					attrs = append(attrs, "err", err.Error())
				}
				log.Info("stopped", attrs...)
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "portcullis.yaml", "config file")
	cmd.Flags().BoolVar(&noWatch, "no-watch", false, "do not reload when the config file changes (SIGHUP still reloads)")
	return cmd
}

// reopenLogs reopens the access log file (when there is one) and the
// events JSONL file, logging the outcome of each.
func reopenLogs(log interface {
	Info(string, ...any)
	Error(string, ...any)
}, access *logFile, srv *gateway.Server) {
	var files []string
	if access != nil {
		srv.FlushAccess() // the records held so far belong to the old file
		if err := access.Reopen(); err != nil {
			log.Error("reopening the access log failed; still writing to the old file", "err", err.Error())
		} else {
			files = append(files, access.path)
		}
	}
	if path, err := srv.ReopenEvents(); err != nil {
		log.Error("reopening the events file failed; still writing to the old file", "err", err.Error())
	} else if path != "" {
		files = append(files, path)
	}
	log.Info("reopened log files", "files", files)
}

// withTempDirHint adds what to do when the gateway could not start because
// the temporary directory is not writable: the waf stage (OWASP Coraza)
// buffers request bodies there and checks it at load. In a container with a
// read-only root file system this is the usual cause, and Coraza's own
// message suggests a build tag instead.
func withTempDirHint(err error) error {
	f, terr := os.CreateTemp("", "portcullis-tmpcheck-")
	if terr == nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	return fmt.Errorf("%w\nthe temporary directory %s is not writable (%v): set TMPDIR to a writable directory; "+
		"in a container with a read-only root file system mount a tmpfs there (docker run --tmpfs /tmp; Kubernetes: an emptyDir volume at /tmp)",
		err, os.TempDir(), terr)
}
