package cli

import "github.com/passpush/passpush/app/dburl"

// describeDatabase names the database for logs and errors, without anything that can hold a password.
func describeDatabase(databaseURL string) string {
	u, err := dburl.Parse(databaseURL)
	if err != nil {
		return "an invalid database URL"
	}
	return u.String()
}
