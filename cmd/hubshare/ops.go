package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"hubshare/app/metrics"
)

// serveMetrics serves /metrics on its own listener, apart from the public
// one, until ctx ends. It returns the address it listens on.
func serveMetrics(ctx context.Context, addr string, mt *metrics.Metrics, log *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", mt.Handler(log))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}
	return ln.Addr().String(), stop, nil
}

// printVersion prints what the build info knows about this binary: the
// module version, the VCS revision and time, whether the tree had local
// changes, and the Go version.
func printVersion(w io.Writer, args []string) error {
	if len(args) > 0 {
		return usageError{"usage: hubshare version"}
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return errors.New("this binary carries no build information")
	}
	version := bi.Main.Version
	if version == "" {
		version = "(unknown)"
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	fmt.Fprintf(w, "hubshare %s\n", version)
	fmt.Fprintf(w, "module:   %s\n", or(bi.Main.Path, "(unknown)"))
	fmt.Fprintf(w, "revision: %s\n", or(settings["vcs.revision"], "(unknown)"))
	fmt.Fprintf(w, "time:     %s\n", or(settings["vcs.time"], "(unknown)"))
	fmt.Fprintf(w, "modified: %s\n", or(settings["vcs.modified"], "(unknown)"))
	fmt.Fprintf(w, "go:       %s\n", bi.GoVersion)
	return nil
}
