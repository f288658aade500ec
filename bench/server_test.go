package bench

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/gateway"
)

// startServer starts a whole gateway server (listener included) for cfg
// on a free loopback port, logging nowhere, and returns its address and
// how to stop it.
func startServer(tb testing.TB, cfg *config.Config) (string, func()) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := gateway.NewServer(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), AccessWriter: io.Discard,
		Listeners: []net.Listener{ln}})
	if err != nil {
		tb.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		tb.Fatal(err)
	}
	return ln.Addr().String(), func() { _ = srv.Close(context.Background()) }
}
