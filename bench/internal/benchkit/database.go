package benchkit

import (
	"errors"
	"strings"
)

// CheckDatabaseURL accepts an empty URL (the benchmark then makes a SQLite file of its own), postgres:// and
// sqlite:PATH, so that a typo fails before minutes of setting up.
func CheckDatabaseURL(raw string) error {
	switch {
	case raw == "":
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
	case strings.HasPrefix(raw, "sqlite:") && strings.TrimPrefix(raw, "sqlite:") != "":
	default:
		return errors.New("-database-url must be postgres://… or sqlite:PATH")
	}
	return nil
}

// Backend names the database of a URL, for summaries and for targets that hold for one backend only.
func Backend(databaseURL string) string {
	if strings.HasPrefix(databaseURL, "sqlite:") {
		return "SQLite"
	}
	return "PostgreSQL"
}
