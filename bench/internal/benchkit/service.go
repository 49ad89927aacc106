package benchkit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/passpush/passpush/adapters/secretbox"
	"github.com/passpush/passpush/adapters/sqldb"
	httpport "github.com/passpush/passpush/ports/http"
	"github.com/passpush/passpush/service"
	"github.com/sirupsen/logrus"
)

// stopTimeout bounds a graceful stop, so that a service that hangs fails the run instead of hanging it.
const stopTimeout = 30 * time.Second

// Service is passpush started as serve starts it (the buses and the delivery stage, then the HTTP server on
// loopback), but in this process: the benchmark then reaches the application directly, reads the database and
// can profile the service with runtime/pprof.
type Service struct {
	URL     string // http://127.0.0.1:port
	LogPath string // the service's log, warnings and above, as JSON lines
	Svc     *service.Service
	DB      *sqldb.DB

	server  *http.Server
	stopBus context.CancelFunc
	busDone <-chan error
	logFile *os.File
}

// ServiceOptions says how to start a Service.
type ServiceOptions struct {
	DatabaseURL string
	Dir         string // where the log is written
	AdminToken  string
	// Config returns the service's configuration given the URL it listens on; its PublicURL is also the HTTP
	// server's. Nil means the zero Config.
	Config func(url string) service.Config
	// RequireFresh refuses a database that holds events already: the figures of a used one are not comparable.
	RequireFresh bool
}

// StartService migrates the database and starts the service on it; Stop stops it.
func StartService(ctx context.Context, o ServiceOptions) (*Service, error) {
	logPath := filepath.Join(o.Dir, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	l := logrus.New()
	l.SetOutput(logFile)
	l.SetFormatter(&logrus.JSONFormatter{})
	l.SetLevel(logrus.WarnLevel)
	log := logrus.NewEntry(l)
	db, err := sqldb.Open(ctx, o.DatabaseURL, sqldb.Config{})
	if err != nil {
		_ = logFile.Close()
		return nil, err
	}
	var ln net.Listener
	fail := func(err error) (*Service, error) {
		if ln != nil {
			_ = ln.Close()
		}
		_ = db.Close()
		_ = logFile.Close()
		return nil, err
	}
	if _, err := sqldb.Migrate(ctx, db); err != nil {
		return fail(err)
	}
	if o.RequireFresh {
		var events int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&events); err != nil || events > 0 {
			return fail(fmt.Errorf("the database is not fresh (%d events, %v): the figures would not be comparable", events, err))
		}
	}
	if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return fail(err)
	}
	url := "http://" + ln.Addr().String()
	var config service.Config
	if o.Config != nil {
		config = o.Config(url)
	}
	if config.Secrets == nil {
		// A bench run's database is its own: a key of its own, which lives as long as the run, seals its secrets.
		key, err := secretbox.ParseKey(secretbox.GenerateKeyText())
		if err != nil {
			return fail(err)
		}
		if config.Secrets, err = secretbox.New(key); err != nil {
			return fail(err)
		}
	}
	svc, err := service.New(db, config, log)
	if err != nil {
		return fail(err)
	}
	busCtx, stopBus := context.WithCancel(context.WithoutCancel(ctx))
	busDone, err := svc.Run(busCtx)
	if err != nil {
		stopBus()
		return fail(err)
	}
	handler, err := httpport.NewServer(svc.App, httpport.Config{AdminToken: o.AdminToken, PublicURL: config.PublicURL}, log)
	if err != nil {
		stopBus()
		<-busDone
		return fail(err)
	}
	s := &Service{
		URL: url, LogPath: logPath, Svc: svc, DB: db, stopBus: stopBus, busDone: busDone, logFile: logFile,
		server: &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute},
	}
	go func() { _ = s.server.Serve(ln) }()
	return s, nil
}

// Stop stops the service as serve does on SIGTERM: the HTTP server first, then the buses, then the database.
func (s *Service) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	err := s.server.Shutdown(ctx)
	s.stopBus()
	select {
	case busErr := <-s.busDone:
		if busErr != nil && !errors.Is(busErr, context.Canceled) {
			err = errors.Join(err, busErr)
		}
	case <-ctx.Done():
		err = errors.Join(err, errors.New("buses did not stop in time"))
	}
	return errors.Join(err, s.DB.Close(), s.logFile.Close())
}

// Count runs a COUNT(*) query on the service's database, to wait for read models and count outcomes.
func (s *Service) Count(ctx context.Context, q string, args ...any) (int, error) {
	var n int
	err := s.DB.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}
