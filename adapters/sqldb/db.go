// Package sqldb opens the database passpush runs on, PostgreSQL or an embedded SQLite file, and names the few
// places where the two differ.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/passpush/passpush/app/dburl"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is an open database and the dialect it speaks. The embedded pool writes; Reader serves reads outside a
// transaction (see ReaderFor).
type DB struct {
	*sql.DB
	Reader  *sql.DB
	Dialect Dialect
}

// Close closes the pools.
func (db *DB) Close() error {
	if db.Reader == db.DB {
		return db.DB.Close()
	}
	return errors.Join(db.Reader.Close(), db.DB.Close())
}

// Config sizes the connection pools. Zero fields take the defaults.
type Config struct {
	// MaxConns is the most connections the process holds, all its pools together. Several instances share one
	// PostgreSQL, whose max_connections (100 by default) is for all of them and every other client.
	MaxConns int
	// MaxIdleTime closes a connection that has been idle this long, so a quiet instance gives its PostgreSQL
	// backends back.
	MaxIdleTime time.Duration
}

const (
	// DefaultMaxConns lets four instances fit in PostgreSQL's default max_connections of 100 (80 of them), with
	// room left for the CLI, psql and monitoring.
	DefaultMaxConns = 20
	// MinMaxConns is what serve holds at once under a journey's load with the default configuration: the two
	// Watermill subscribers (commands, projections), each holding its transaction while its handler runs in it;
	// two command writes and two match queries of execute calls; the delivery stage's claim and its flush. With
	// fewer, those stages take turns with connections and execute calls slow down under the load passpush is for.
	MinMaxConns = warmConns
	// DefaultMaxIdleTime keeps the connections of a load's pauses, and lets a quiet instance's go.
	DefaultMaxIdleTime = 5 * time.Minute
)

func (c *Config) setDefaults() {
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxIdleTime == 0 {
		c.MaxIdleTime = DefaultMaxIdleTime
	}
}

// Validate reports a config the service cannot run with.
func (c Config) Validate() error {
	var err error
	if c.MaxConns < MinMaxConns {
		err = errors.Join(err, fmt.Errorf("max connections %d is below %d, what the service holds at once under load", c.MaxConns, MinMaxConns))
	}
	if c.MaxIdleTime <= 0 {
		err = errors.Join(err, fmt.Errorf("max idle time %s must be positive", c.MaxIdleTime))
	}
	return err
}

// Open connects to the database url names (see dburl.Parse): PostgreSQL, or an SQLite file.
func Open(ctx context.Context, url string, config Config) (*DB, error) {
	config.setDefaults()
	if err := config.Validate(); err != nil {
		return nil, fmt.Errorf("invalid database config: %w", err)
	}
	target, err := dburl.Parse(url)
	if err != nil {
		return nil, fmt.Errorf("database URL %s %w", Redact(url), err)
	}
	switch target.Kind {
	case dburl.Postgres:
		db, err := sql.Open("pgx", target.DSN)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		// One pool for reads and writes: a PostgreSQL backend serves either, so any split would leave connections
		// of one kind idle while the other waits.
		db.SetMaxOpenConns(config.MaxConns)
		db.SetMaxIdleConns(config.MaxConns)
		db.SetConnMaxIdleTime(config.MaxIdleTime)
		return ping(ctx, &DB{DB: db, Reader: db, Dialect: Postgres})
	default: // dburl.SQLite
		path, synchronous := target.Path, "NORMAL"
		if target.SynchronousFull {
			synchronous = "FULL"
		}
		if err := createPrivate(path); err != nil {
			return nil, err
		}
		db, err := sql.Open("sqlite", sqliteDSN(path, synchronous)+"&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		// SQLite has one writer. One connection makes Go queue the writers instead of SQLite's busy handler,
		// which sleeps up to 100 ms between tries. Handlers that run inside a subscriber's transaction must use that
		// transaction (see InTx), never a second connection. It is never closed for idleness: reopening it would
		// cost every write after a pause its pragmas.
		db.SetMaxOpenConns(1)
		db.SetConnMaxIdleTime(0)
		db.SetConnMaxLifetime(0)
		// In WAL mode readers do not wait for the writer, so reads (an execute call's pass lookup, a GET) get
		// connections of their own instead of queueing behind the subscribers' write transactions. query_only
		// makes a write sent to them by mistake fail instead of contending with the writer.
		reader, err := sql.Open("sqlite", sqliteDSN(path, synchronous)+"&_pragma=query_only(1)")
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("open sqlite %s for reading: %w", path, err)
		}
		readers := min(sqliteReaders, config.MaxConns-1)
		reader.SetMaxOpenConns(readers)
		reader.SetMaxIdleConns(readers)
		reader.SetConnMaxIdleTime(config.MaxIdleTime)
		return ping(ctx, &DB{DB: db, Reader: reader, Dialect: SQLite})
	}
}

// sqliteDSN turns on WAL (readers never block the writer) and a busy timeout for other processes such as a CLI
// running beside `serve`. The writer adds immediate transactions, so a transaction never fails to upgrade from
// read to write.
//
// synchronous(NORMAL) in WAL mode writes every commit to the WAL before it returns, so a commit survives the
// process being killed (kill -9) and restarted; only a crash of the machine itself can lose the last commits,
// which are synced at the next checkpoint. FULL also syncs every commit to disk, at about 1.6 ms a commit here:
// it is the option sqlite:PATH?synchronous=full.
func sqliteDSN(path, synchronous string) string {
	return "file:" + path +
		"?_pragma=journal_mode(WAL)" +
		"&_pragma=busy_timeout(10000)" +
		"&_pragma=synchronous(" + synchronous + ")" +
		"&_pragma=foreign_keys(ON)"
}

// createPrivate makes the SQLite file, when there is none yet, readable by its owner only: it holds the tenants'
// data and their (sealed) secrets. SQLite would make it with 0644 less the umask. SQLite gives the -wal and -shm
// files it makes beside it the database file's mode, so they are private too. An existing file keeps its mode:
// the operator may have chosen it.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create sqlite file %s: %w", path, err)
	}
	return f.Close()
}

// sqliteReaders is how many read connections an SQLite database gets: one per core here is enough to keep reads
// off the writer's queue.
const sqliteReaders = 4

func ping(ctx context.Context, db *DB) (*DB, error) {
	if err := errors.Join(db.PingContext(ctx), db.Reader.PingContext(ctx)); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connect to %s: %w", db.Dialect.Name, err)
	}
	return db, nil
}

// warmConns is how many connections Warm opens per pool: about what the service uses at once under a journey's
// load (two match queries, two command writes, the command and projection consumers, the delivery claim and its
// outcomes), not the pool's limit, so that services and tests sharing a server do not hold its connection slots
// idle.
const warmConns = 8

// Warm opens connections ahead of need, so the first burst of calls after a start does not wait for PostgreSQL to
// start a backend per connection. The pools keep them idle (their idle limit is their open limit) until
// ConnMaxIdleTime.
func (db *DB) Warm(ctx context.Context) error {
	pools := []*sql.DB{db.DB}
	if db.Reader != db.DB {
		pools = append(pools, db.Reader)
	}
	var errs []error
	for _, pool := range pools {
		// Holding each connection until all are open makes the pool open a new one for every Conn.
		var held []*sql.Conn
		for range min(pool.Stats().MaxOpenConnections, warmConns) {
			conn, err := pool.Conn(ctx)
			if err != nil {
				errs = append(errs, err)
				break
			}
			held = append(held, conn)
		}
		for _, conn := range held {
			errs = append(errs, conn.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("warm the %s connection pool: %w", db.Dialect.Name, err)
	}
	return nil
}

// Redact drops a password from a URL so it can go into an error message or a log.
func Redact(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 {
		return url
	}
	userinfo := url[scheme+3 : at]
	if colon := strings.Index(userinfo, ":"); colon >= 0 {
		return url[:scheme+3] + userinfo[:colon] + ":xxxxx" + url[at:]
	}
	return url
}
