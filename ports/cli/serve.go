package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
)

// HTTP server limits. Journey Builder waits up to its activity's timeout (at most 100 s) for execute, so writes
// may take long; headers and bodies must arrive quickly, so a slow client cannot hold connections open.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 2 * time.Minute
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 15 * time.Second
	// maxHeaderBytes bounds a request's headers: Journey Builder's and Apple's are a few KiB, and the default
	// (1 MiB) lets every connection make the server hold much more.
	maxHeaderBytes = 64 << 10
)

// Backoff while the database is unreachable at start.
const (
	firstRetryDelay = 500 * time.Millisecond
	maxRetryDelay   = 15 * time.Second
)

func newServeCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Apply the migrations, run the buses and serve the HTTP API until SIGINT or SIGTERM",
		Long: `serve waits for the database (retrying with backoff while it is unreachable), applies the migrations,
runs the command and event processors and serves the HTTP API on PASSPUSH_HTTP_ADDR. SIGINT or SIGTERM stops it
gracefully: requests in flight finish, then the processors stop.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.serve(cmd.Context())
		},
	}
}

func (e *env) serve(ctx context.Context) error {
	defer setServeGCDefaults(e.io.LookupEnv)()
	e.logServeSettings()

	b, err := e.waitForBackend(ctx)
	if err != nil {
		if ctx.Err() != nil {
			// Stopped by a signal while waiting: that is a clean stop, not a failure.
			e.log.Info("stopped before the database was ready")
			return nil
		}
		return err
	}
	defer e.closeBackend(b)

	handler, err := b.NewHTTPHandler()
	if err != nil {
		return fmt.Errorf("build HTTP server: %w", err)
	}
	// Listening before the buses start makes a taken port fail serve before anything runs.
	listener, err := net.Listen("tcp", e.config.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", e.config.HTTPAddr, err)
	}
	metricsServer, err := e.serveMetrics(ctx, b)
	if err != nil {
		_ = listener.Close()
		return err
	}
	if metricsServer != nil {
		defer func() { _ = metricsServer.Close() }()
	}
	busCtx, stopBus := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBus()
	busDone, err := b.Run(busCtx)
	if err != nil {
		_ = listener.Close()
		return fmt.Errorf("run buses and delivery: %w", err)
	}
	server := newHTTPServer(ctx, handler)
	serveErr := make(chan error, 1)
	go func() { serveErr <- server.Serve(listener) }()
	e.log.WithField("addr", listener.Addr().String()).WithField("database", describeDatabase(e.config.DatabaseURL)).Info("listening")

	var runErr error
	select {
	case <-ctx.Done():
		e.log.Info("shutting down")
	case err := <-serveErr:
		runErr = fmt.Errorf("serve HTTP: %w", err)
	case err := <-busDone:
		runErr = fmt.Errorf("buses or delivery stopped: %w", err)
		busDone = nil
	}
	runErr = errors.Join(runErr, shutDown(ctx, server, stopBus, busDone))
	if runErr != nil {
		e.log.WithError(runErr).Error("serve stopped")
		return runErr
	}
	e.log.Info("stopped")
	return nil
}

// serveMetrics serves GET /metrics on PASSPUSH_METRICS_ADDR, a listener of its own that Prometheus can reach and
// Journey Builder cannot; nil when it is not set, and /metrics is on the main router.
func (e *env) serveMetrics(ctx context.Context, b *Backend) (*http.Server, error) {
	if e.config.MetricsAddr == "" {
		return nil, nil
	}
	if b.MetricsHandler == nil {
		return nil, errors.New("PASSPUSH_METRICS_ADDR is set but this build has no metrics handler")
	}
	listener, err := net.Listen("tcp", e.config.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s for metrics: %w", e.config.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", b.MetricsHandler)
	server := newHTTPServer(ctx, mux)
	go func() {
		if err := server.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.WithError(err).Error("metrics listener stopped")
		}
	}()
	e.log.WithField("addr", listener.Addr().String()).Info("serving metrics")
	return server, nil
}

// logServeSettings logs the collector settings serve runs with, and warns about an admin token that leaves the
// management API closed or weak.
func (e *env) logServeSettings() {
	percent, limit := gcSettings()
	e.log.WithFields(logrus.Fields{"gogc": percent, "gomemlimit_mib": limit >> 20}).Info("garbage collector settings")
	if e.config.AdminToken == "" {
		e.log.Warn("PASSPUSH_ADMIN_TOKEN is empty: the management API (/api/admin/… and the pass routes) answers 401 to every request until it is set")
	} else if len(e.config.AdminToken) < 16 {
		e.log.Warn("PASSPUSH_ADMIN_TOKEN is shorter than 16 characters; use a long random token")
	}
}

func newHTTPServer(ctx context.Context, handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// Requests do not inherit the signal's cancellation: on SIGTERM the ones in flight finish during
		// Shutdown instead of failing halfway.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}

// shutDown stops the HTTP server, then the buses and the delivery stage, so the last requests' commands still
// get processed. busDone is nil when the buses have already stopped.
func shutDown(ctx context.Context, server *http.Server, stopBus context.CancelFunc, busDone <-chan error) error {
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	var err error
	if shutdownErr := server.Shutdown(shutdownCtx); shutdownErr != nil && !errors.Is(shutdownErr, http.ErrServerClosed) {
		err = fmt.Errorf("shut down HTTP server: %w", shutdownErr)
	}
	stopBus()
	if busDone != nil {
		if busErr := <-busDone; busErr != nil && !errors.Is(busErr, context.Canceled) {
			err = errors.Join(err, fmt.Errorf("stop buses and delivery: %w", busErr))
		}
	}
	return err
}

// waitForBackend opens the backend, retrying with backoff, so serve started beside its database (docker-compose,
// a restart after an outage) comes up as soon as the database does instead of exiting.
func (e *env) waitForBackend(ctx context.Context) (*Backend, error) {
	delay := firstRetryDelay
	for attempt := 1; ; attempt++ {
		b, err := e.open(ctx, e.config, e.log)
		if err == nil {
			logMigrations(e.log, b.Migrated)
			return b, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("open database %s: %w", describeDatabase(e.config.DatabaseURL), ctx.Err())
		}
		e.log.WithError(err).WithFields(map[string]any{
			"database": describeDatabase(e.config.DatabaseURL),
			"attempt":  attempt,
			"retry_in": delay.String(),
		}).Warn("database not ready; retrying")
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("open database %s: %w", describeDatabase(e.config.DatabaseURL), ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, maxRetryDelay)
	}
}
