package cli

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// Config is passpush's configuration. Each field comes from an environment variable and can be overridden by a
// flag of the same name; empty fields take the defaults.
type Config struct {
	// DatabaseURL is postgres://… or postgresql://… for PostgreSQL, sqlite:PATH for an SQLite file, or empty for
	// the SQLite file passpush.db in the working directory.
	DatabaseURL string
	// HTTPAddr is the address serve listens on.
	HTTPAddr string
	// AdminToken guards the management API; empty turns the management API off (it answers 401).
	AdminToken string
	// PublicURL is the base URL Journey Builder reaches passpush at.
	PublicURL string
	// LogLevel is a logrus level: trace, debug, info, warn or error.
	LogLevel string
	// DBMaxConns is the most database connections the process holds, an integer of at least MinDBMaxConns.
	DBMaxConns string
	// DBMaxIdleTime is a Go duration after which an idle database connection is closed.
	DBMaxIdleTime string
}

const (
	DefaultHTTPAddr = ":8080"
	DefaultLogLevel = "info"
	// DefaultDBMaxConns lets four instances fit in PostgreSQL's default max_connections of 100, with room left.
	DefaultDBMaxConns    = "20"
	DefaultDBMaxIdleTime = "5m"
	// MinDBMaxConns is sqldb.MinMaxConns, what serve holds at once under load; a port does not import adapters,
	// so a test keeps the two equal.
	MinDBMaxConns = 8
)

// setting ties a Config field to its environment variable and flag, so the two never drift apart and --help can
// name every variable.
type setting struct {
	env, flag, usage, fallback string
	field                      func(c *Config) *string
}

func settings() []setting {
	return []setting{
		{
			env: "PASSPUSH_DATABASE_URL", flag: "database-url",
			usage: "database: postgres://… or postgresql://… for PostgreSQL, sqlite:PATH for an SQLite file; empty means the SQLite file passpush.db in the working directory",
			field: func(c *Config) *string { return &c.DatabaseURL },
		},
		{
			env: "PASSPUSH_HTTP_ADDR", flag: "http-addr", fallback: DefaultHTTPAddr,
			usage: "address serve listens on, host:port",
			field: func(c *Config) *string { return &c.HTTPAddr },
		},
		{
			env: "PASSPUSH_ADMIN_TOKEN", flag: "admin-token",
			usage: "bearer token of the management API (Authorization: Bearer TOKEN); empty means the management API answers 401",
			field: func(c *Config) *string { return &c.AdminToken },
		},
		{
			env: "PASSPUSH_PUBLIC_URL", flag: "public-url",
			usage: "base URL Journey Builder reaches passpush at, e.g. https://passpush.example.com",
			field: func(c *Config) *string { return &c.PublicURL },
		},
		{
			env: "PASSPUSH_LOG_LEVEL", flag: "log-level", fallback: DefaultLogLevel,
			usage: "log level: trace, debug, info, warn or error",
			field: func(c *Config) *string { return &c.LogLevel },
		},
		{
			env: "PASSPUSH_DB_MAX_CONNS", flag: "db-max-conns", fallback: DefaultDBMaxConns,
			usage: fmt.Sprintf("most database connections one process holds, at least %d; on PostgreSQL, instances times this must stay below max_connections", MinDBMaxConns),
			field: func(c *Config) *string { return &c.DBMaxConns },
		},
		{
			env: "PASSPUSH_DB_MAX_IDLE_TIME", flag: "db-max-idle-time", fallback: DefaultDBMaxIdleTime,
			usage: "how long a database connection may stay idle before it is closed, a Go duration such as 90s or 5m",
			field: func(c *Config) *string { return &c.DBMaxIdleTime },
		},
	}
}

// configFromEnv reads every PASSPUSH_* variable that is set.
func configFromEnv(lookupEnv func(string) (string, bool)) Config {
	var c Config
	for _, s := range settings() {
		if v, ok := lookupEnv(s.env); ok {
			*s.field(&c) = v
		}
	}
	return c
}

func (c *Config) setDefaults() {
	for _, s := range settings() {
		if f := s.field(c); *f == "" {
			*f = s.fallback
		}
	}
}

// Validate reports every setting passpush cannot run with. It never echoes the admin token or a database password.
func (c Config) Validate() error {
	var err error
	switch u := c.DatabaseURL; {
	case u == "", strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
	case strings.HasPrefix(u, "sqlite:"):
		if strings.TrimPrefix(u, "sqlite:") == "" {
			err = errors.Join(err, errors.New("PASSPUSH_DATABASE_URL sqlite: needs a path, e.g. sqlite:/var/lib/passpush/passpush.db"))
		}
	default:
		err = errors.Join(err, errors.New("PASSPUSH_DATABASE_URL must start with postgres://, postgresql:// or sqlite:"))
	}
	if _, _, splitErr := net.SplitHostPort(c.HTTPAddr); splitErr != nil {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_HTTP_ADDR %q must be host:port or :port: %w", c.HTTPAddr, splitErr))
	}
	if c.PublicURL != "" {
		u, parseErr := url.Parse(c.PublicURL)
		if parseErr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			err = errors.Join(err, fmt.Errorf("PASSPUSH_PUBLIC_URL %q must be an absolute http or https URL", c.PublicURL))
		}
	}
	if strings.TrimSpace(c.AdminToken) != c.AdminToken {
		// A token pasted with a trailing newline would never match what clients send.
		err = errors.Join(err, errors.New("PASSPUSH_ADMIN_TOKEN must not start or end with white space"))
	}
	if _, parseErr := logrus.ParseLevel(c.LogLevel); parseErr != nil {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_LOG_LEVEL %q must be trace, debug, info, warn or error", c.LogLevel))
	}
	if n, parseErr := strconv.Atoi(c.DBMaxConns); parseErr != nil || n < MinDBMaxConns {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_DB_MAX_CONNS %q must be a whole number of at least %d: serve holds that many connections at once under load", c.DBMaxConns, MinDBMaxConns))
	}
	if d, parseErr := time.ParseDuration(c.DBMaxIdleTime); parseErr != nil || d <= 0 {
		err = errors.Join(err, fmt.Errorf("PASSPUSH_DB_MAX_IDLE_TIME %q must be a positive Go duration such as 90s or 5m", c.DBMaxIdleTime))
	}
	return err
}

// DBPool returns the connection settings as numbers. Call it on a validated config: it returns zeros, which mean
// the database adapter's defaults, for anything that does not parse.
func (c Config) DBPool() (maxConns int, maxIdleTime time.Duration) {
	maxConns, _ = strconv.Atoi(c.DBMaxConns)
	maxIdleTime, _ = time.ParseDuration(c.DBMaxIdleTime)
	return maxConns, maxIdleTime
}
