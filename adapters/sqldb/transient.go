package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ConnectionLost reports whether err means the connection, and so any transaction open on it, is gone: the
// server closed it (pg_terminate_backend, a restart), the network dropped it, or database/sql already gave up on
// it. Nothing more can be done in that transaction; the work must start again on a fresh connection.
func ConnectionLost(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08 is connection exception; 57P01-57P03 are the server shutting down, crashing or starting.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

// Transient reports whether err is a database failure that passes by itself, so the work that hit it should be
// tried again, as often as it takes, and never given up on: a lost connection, a lock or statement timeout, a
// deadlock or serialization failure, a server out of connections, or SQLite's busy writer. Anything else (a
// message that cannot be decoded, a broken invariant, a bug) fails the same way on every try.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if ConnectionLost(err) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "40001", // serialization_failure
			pgErr.Code == "40P01",               // deadlock_detected
			pgErr.Code == "55P03",               // lock_not_available: lock_timeout
			pgErr.Code == "57014",               // query_canceled: statement_timeout
			strings.HasPrefix(pgErr.Code, "53"): // insufficient resources: too many connections, disk full, out of memory
			return true
		}
		return false
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		switch sqliteErr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL:
			return true
		}
	}
	return false
}
