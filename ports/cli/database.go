package cli

import (
	"net/url"
	"strings"

	"github.com/passpush/passpush/app/dburl"
)

// describeDatabase names the database for logs and errors. It keeps the user, host and database name and drops
// everything that can hold a password: the userinfo's password and the whole query (pgx reads password= there).
func describeDatabase(databaseURL string) string {
	switch {
	case databaseURL == "":
		return "sqlite:" + dburl.DefaultSQLitePath
	case strings.HasPrefix(databaseURL, "sqlite:"):
		return databaseURL
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		// The parse error quotes the URL, so it is not repeated here.
		return "postgres (unparsable URL)"
	}
	shown := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	if u.User != nil {
		shown.User = url.User(u.User.Username())
	}
	return shown.String()
}
