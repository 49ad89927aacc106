// Package dburl is the grammar of passpush's database URL, PASSPUSH_DATABASE_URL: which database passpush runs on.
// The CLI checks the setting with it before touching anything, and the sqldb adapter opens what it names, so the
// two never disagree. It lives in app because that is what both a port and an adapter may import.
package dburl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Kind is the database a URL names.
type Kind string

const (
	Postgres Kind = "postgres"
	SQLite   Kind = "sqlite"
)

// DefaultSQLitePath is the SQLite file of an empty URL, so `passpush serve` works on a fresh machine.
const DefaultSQLitePath = "passpush.db"

// URL is a parsed database URL.
type URL struct {
	Kind Kind
	// DSN is a PostgreSQL URL as it was given, for the driver.
	DSN string
	// Path is an SQLite file.
	Path string
	// SynchronousFull is SQLite's option synchronous=full: every commit is synced to disk.
	SynchronousFull bool
}

// Parse reads one of:
//
//	postgres://… or postgresql://…   PostgreSQL
//	sqlite:PATH[?synchronous=full]    an SQLite file
//	(empty)                           the SQLite file DefaultSQLitePath
//
// Its errors never quote a PostgreSQL URL, which can hold a password, and read after the name of the setting.
func Parse(s string) (URL, error) {
	switch {
	case s == "":
		return URL{Kind: SQLite, Path: DefaultSQLitePath}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return URL{Kind: Postgres, DSN: s}, nil
	case strings.HasPrefix(s, "sqlite:"):
		rest := strings.TrimPrefix(s, "sqlite:")
		if rest == "" {
			return URL{}, errors.New("sqlite: needs a path, e.g. sqlite:/var/lib/passpush/passpush.db")
		}
		path, options, _ := strings.Cut(rest, "?")
		if path == "" {
			path = DefaultSQLitePath
		}
		u := URL{Kind: SQLite, Path: path}
		switch options {
		case "":
		case "synchronous=full":
			u.SynchronousFull = true
		default:
			return URL{}, fmt.Errorf("has the unsupported SQLite option %q: the only one is synchronous=full", options)
		}
		return u, nil
	default:
		return URL{}, errors.New("must start with postgres://, postgresql:// or sqlite:")
	}
}

// String names the database for logs and errors. It keeps a PostgreSQL URL's user, host and database name and
// drops everything that can hold a password: the userinfo's password and the whole query (pgx reads password=
// there).
func (u URL) String() string {
	if u.Kind == SQLite {
		return "sqlite:" + u.Path
	}
	parsed, err := url.Parse(u.DSN)
	if err != nil {
		// The parse error quotes the URL, so it is not repeated here.
		return "postgres (unparsable URL)"
	}
	shown := url.URL{Scheme: parsed.Scheme, Host: parsed.Host, Path: parsed.Path}
	if parsed.User != nil {
		shown.User = url.User(parsed.User.Username())
	}
	return shown.String()
}
