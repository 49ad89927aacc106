// Package migrations holds the versioned schema, one folder per SQL dialect, embedded in the binary.
package migrations

import "embed"

// FS holds postgres/*.sql and sqlite/*.sql; the two folders keep the same version numbers.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS
