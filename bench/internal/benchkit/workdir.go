package benchkit

import (
	"os"
	"path/filepath"
)

// WorkDir makes a temporary folder for a run of the program (the service's log, keys, templates) and, when no
// database URL was given, puts a new SQLite file in it, so that a bare `go run` measures a fresh database and
// leaves nothing behind once the caller removes the folder.
func WorkDir(program, databaseURL string) (dir, url string, err error) {
	dir, err = os.MkdirTemp("", "passpush-bench-"+program+"-")
	if err != nil {
		return "", "", err
	}
	if databaseURL == "" {
		databaseURL = "sqlite:" + filepath.Join(dir, "passpush.db")
	}
	return dir, databaseURL, nil
}
