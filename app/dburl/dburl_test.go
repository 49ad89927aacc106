package dburl_test

import (
	"strings"
	"testing"

	"github.com/passpush/passpush/app/dburl"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]dburl.URL{
		"":                                    {Kind: dburl.SQLite, Path: dburl.DefaultSQLitePath},
		"postgres://u:p@db:5432/passpush":     {Kind: dburl.Postgres, DSN: "postgres://u:p@db:5432/passpush"},
		"postgresql://db/passpush":            {Kind: dburl.Postgres, DSN: "postgresql://db/passpush"},
		"sqlite:/var/lib/passpush.db":         {Kind: dburl.SQLite, Path: "/var/lib/passpush.db"},
		"sqlite:passpush.db?synchronous=full": {Kind: dburl.SQLite, Path: "passpush.db", SynchronousFull: true},
		"sqlite:?synchronous=full":            {Kind: dburl.SQLite, Path: dburl.DefaultSQLitePath, SynchronousFull: true},
	} {
		if got, err := dburl.Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
}

func TestParse_refusesWithoutQuotingTheURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"sqlite:":                            "needs a path",
		"sqlite:/x.db?cache=shared":          "synchronous=full",
		"mysql://root:db-password@db/x":      "must start with",
		"POSTGRES://u:db-password@db/x":      "must start with",
		"file:/x.db?password=db-password":    "must start with",
		"sqlite:/x.db?synchronous=full&a=db": "unsupported SQLite option",
	} {
		_, err := dburl.Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "db-password") {
			t.Errorf("Parse(%q) = %v, want an error saying %q without the password", in, err, want)
		}
	}
}

func TestURL_String_dropsWhatCanHoldAPassword(t *testing.T) {
	for in, want := range map[string]string{
		"":                                      "sqlite:passpush.db",
		"sqlite:/var/lib/p.db?synchronous=full": "sqlite:/var/lib/p.db",
		"postgres://app:s3cret@db.internal:5432/passpush?sslmode=require&password=s3cret": "postgres://app@db.internal:5432/passpush",
		"postgresql://db.internal/passpush":                                               "postgresql://db.internal/passpush",
		"postgres://app:s3cret@db.internal:99999999999/%zz":                               "postgres (unparsable URL)",
	} {
		u, err := dburl.Parse(in)
		if err != nil {
			t.Fatalf("parse %q: %v", in, err)
		}
		if got := u.String(); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}
