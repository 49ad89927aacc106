// Package cli is passpush's command line: each command turns flags and files into application calls. It opens no
// database itself: main hands it an Open function that builds passpush on one.
package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/passpush/passpush/app"
	"github.com/passpush/passpush/app/poison"
	"github.com/passpush/passpush/app/rebuild"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
)

// Backend is passpush on an open, migrated database, as the commands use it.
type Backend struct {
	App app.Application
	// Migrated lists the migration versions that opening the database applied.
	Migrated []int64
	// Run runs what serve needs besides HTTP, the buses and the delivery stage, until ctx ends. It returns once
	// they are running; done then yields the error they stopped with.
	Run func(ctx context.Context) (done <-chan error, err error)
	// RunBus runs only the command and event processors, as Run does: for commands such as pass import that
	// need the projections but must not deliver anything.
	RunBus func(ctx context.Context) (done <-chan error, err error)
	// RebuildProjections rebuilds projections from the event store while serve runs (see rebuild.Options), or
	// compares a fresh build with them.
	RebuildProjections func(ctx context.Context, options rebuild.Options) (rebuild.Report, error)
	// SkipEvent tells a stopped projection to pass over the event at position, returning the id of the
	// ProjectionSkipped event that records it.
	SkipEvent func(ctx context.Context, projection string, position int64, reason string) (string, error)
	// Poison is the poison topic, which passpush poison lists and replays.
	Poison poison.Queue
	// ArchiveEvents moves the events before a time that every projection and snapshot has moved past to a gzip
	// JSON lines file at path, and deletes them from the store; with an existing file, it finishes that file's
	// deletes instead.
	ArchiveEvents func(ctx context.Context, before time.Time, path string) (ArchiveResult, error)
	// RotateSecretKey re-encrypts every stored secret with newKey (base64 text), in one transaction.
	RotateSecretKey func(ctx context.Context, newKey string) error
	// NewHTTPHandler builds the HTTP port on App.
	NewHTTPHandler func() (http.Handler, error)
	// MetricsHandler serves GET /metrics on the listener of PASSPUSH_METRICS_ADDR, when that is set.
	MetricsHandler http.Handler
	// Close releases the database.
	Close func() error
}

// OpenFunc connects to the configured database, applies the migrations and builds passpush on it.
type OpenFunc func(ctx context.Context, config Config, log *logrus.Entry) (*Backend, error)

// IO is where a command reads and writes: the process's own streams in main, buffers in tests.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// LookupEnv reads the environment, as os.LookupEnv does.
	LookupEnv func(string) (string, bool)
}

// Run runs the command line args and returns the process's exit code.
func Run(ctx context.Context, args []string, streams IO, open OpenFunc) int {
	root := NewRootCommand(streams, open)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(streams.Stderr, "passpush: %v\n", err)
		return 1
	}
	return 0
}

// env is what every command shares: the streams, the configuration once the flags are parsed, and the logger
// built from it.
type env struct {
	io     IO
	open   OpenFunc
	flags  Config
	config Config
	log    *logrus.Entry
}

// NewRootCommand returns the passpush command with every subcommand.
func NewRootCommand(streams IO, open OpenFunc) *cobra.Command {
	e := &env{io: streams, open: open}
	root := &cobra.Command{
		Use:   "passpush",
		Short: "Update Apple Wallet and Google Wallet passes from Salesforce Marketing Cloud journeys",
		Long: `passpush is the service behind a Salesforce Marketing Cloud Journey Builder custom activity that updates
wallet passes. It keeps every change as an event in an SQL event store (PostgreSQL, or an embedded SQLite file).

Every setting comes from an environment variable and can be overridden by the flag of the same name:
` + envTable() + `
Flags given on the command line win over the environment.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return e.configure(cmd)
		},
	}
	root.SetIn(streams.Stdin)
	root.SetOut(streams.Stdout)
	root.SetErr(streams.Stderr)
	flags := root.PersistentFlags()
	for _, s := range settings() {
		usage := s.usage + " (env " + s.env + ")"
		// The default shown is the built-in one, never the environment's value: that could be a secret.
		flags.StringVar(s.field(&e.flags), s.flag, s.fallback, usage)
	}
	root.AddCommand(
		newServeCommand(e),
		newMigrateCommand(e),
		newTenantCommand(e),
		newPassCommand(e),
		newProjectionsCommand(e),
		newPoisonCommand(e),
		newDeliveriesCommand(e),
		newAppleCommand(e),
		newTemplateCommand(e),
		newGoogleCommand(e),
		newSecretsCommand(e),
		newEventsCommand(e),
	)
	return root
}

func envTable() string {
	var b strings.Builder
	for _, s := range settings() {
		fmt.Fprintf(&b, "  %-24s --%s", s.env, s.flag)
		if s.fallback != "" {
			fmt.Fprintf(&b, " (default %s)", s.fallback)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// configure resolves the configuration (flag, else environment, else default), validates it and builds the logger.
func (e *env) configure(cmd *cobra.Command) error {
	lookup := e.io.LookupEnv
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	config := configFromEnv(lookup)
	for _, s := range settings() {
		if f := cmd.Flags().Lookup(s.flag); f != nil && f.Changed {
			*s.field(&config) = *s.field(&e.flags)
		}
	}
	config.setDefaults()
	if err := config.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	e.config = config
	e.log = newLogger(e.io.Stderr, config.LogLevel)
	return nil
}

// newLogger logs JSON for log collectors, and text when a person watches the terminal.
func newLogger(w io.Writer, level string) *logrus.Entry {
	l := logrus.New()
	l.SetOutput(w)
	l.SetFormatter(&logrus.JSONFormatter{})
	if isTerminal(w) {
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	}
	lvl, err := logrus.ParseLevel(level)
	if err != nil {
		lvl = logrus.InfoLevel
	}
	l.SetLevel(lvl)
	return logrus.NewEntry(l)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// openBackend opens passpush for a one-off command; serve waits for the database instead (see serve.go).
func (e *env) openBackend(ctx context.Context) (*Backend, error) {
	b, err := e.open(ctx, e.config, e.log)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", describeDatabase(e.config.DatabaseURL), err)
	}
	logMigrations(e.log, b.Migrated)
	return b, nil
}

func (e *env) closeBackend(b *Backend) {
	if err := b.Close(); err != nil {
		e.log.WithError(err).Warn("close database")
	}
}

func logMigrations(log *logrus.Entry, applied []int64) {
	if len(applied) > 0 {
		log.WithField("versions", applied).Info("applied migrations")
	}
}
