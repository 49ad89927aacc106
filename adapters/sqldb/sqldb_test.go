package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passpush/passpush/adapters/internal/contracttest"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/adapters/sqldb/sqldbtest"
)

func newDB(t *testing.T) *sqldb.DB {
	t.Helper()
	db := sqldbtest.New(t)
	if _, err := db.ExecContext(context.Background(), `CREATE TABLE things (id TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func insert(ctx context.Context, tx *sql.Tx, id string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO things (id) VALUES ($1)`, id)
	return err
}

func things(t *testing.T, db *sqldb.DB) []string {
	t.Helper()
	// A deadline, so a connection left in a transaction fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, `SELECT id FROM things ORDER BY id`)
	if err != nil {
		t.Fatalf("read things: %v", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestOpen_rejectsUnknownURLWithoutLeakingThePassword(t *testing.T) {
	t.Parallel()
	_, err := sqldb.Open(context.Background(), "mysql://user:hunter2@db.example.com/passpush", sqldb.Config{})
	if err == nil {
		t.Fatal("mysql:// opened")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://user:secret@host:5432/db?sslmode=disable": "postgres://user:xxxxx@host:5432/db?sslmode=disable",
		"postgres://user@host/db":                             "postgres://user@host/db",
		"postgres://host/db":                                  "postgres://host/db",
		"sqlite:/var/lib/passpush.db":                         "sqlite:/var/lib/passpush.db",
		"postgresql://u:p%40ss@h/db":                          "postgresql://u:xxxxx@h/db",
	} {
		if got := sqldb.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMigrate_secondRunAppliesNothing(t *testing.T) {
	t.Parallel()
	db := sqldbtest.New(t) // migrated once already
	applied, err := sqldb.Migrate(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Errorf("second migration applied %v", applied)
	}
	for _, table := range []string{"tenants", "events", "passes", "watermill_events", "watermill_offsets_events", "watermill_poison", "watermill_commands"} {
		contracttest.Count(t, db, `SELECT count(*) FROM `+table)
	}
}

func TestInTx_commitsWhenTheFunctionSucceeds(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	err := sqldb.InTx(context.Background(), db, func(ctx context.Context, tx *sql.Tx) error {
		if err := insert(ctx, tx, "a"); err != nil {
			return err
		}
		// A nested InTx joins the same transaction.
		return sqldb.InTx(ctx, db, func(ctx context.Context, inner *sql.Tx) error {
			if inner != tx {
				return errors.New("nested InTx opened another transaction")
			}
			got, ok := sqldb.TxFromContext(ctx)
			if !ok || got != tx {
				return errors.New("TxFromContext does not return the transaction")
			}
			return insert(ctx, inner, "b")
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := things(t, db); strings.Join(got, ",") != "a,b" {
		t.Errorf("things = %v, want [a b]", got)
	}
}

func TestInTx_rollsBackWhenTheFunctionFails(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	errFail := errors.New("fail")
	err := sqldb.InTx(context.Background(), db, func(ctx context.Context, tx *sql.Tx) error {
		if err := insert(ctx, tx, "a"); err != nil {
			return err
		}
		return sqldb.InTx(ctx, db, func(ctx context.Context, tx *sql.Tx) error {
			if err := insert(ctx, tx, "b"); err != nil {
				return err
			}
			return errFail
		})
	})
	if !errors.Is(err, errFail) {
		t.Fatalf("err = %v, want the function's error", err)
	}
	if got := things(t, db); len(got) != 0 {
		t.Errorf("things = %v after a rollback", got)
	}
}

func TestInTx_panicRollsBackAndFreesTheConnection(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Error("InTx swallowed the panic")
			}
		}()
		_ = sqldb.InTx(context.Background(), db, func(ctx context.Context, tx *sql.Tx) error {
			if err := insert(ctx, tx, "half-done"); err != nil {
				return err
			}
			panic("handler bug")
		})
	}()
	// A transaction left open would block the next writer of the same row: on SQLite, which has one connection,
	// every later query; on PostgreSQL, the row lock (and its transaction id holds back every subscriber's cut-off).
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := sqldb.InTx(ctx, db, func(ctx context.Context, tx *sql.Tx) error { return insert(ctx, tx, "half-done") }); err != nil {
		t.Fatalf("the next transaction: %v", err)
	}
	if got := things(t, db); strings.Join(got, ",") != "half-done" {
		t.Errorf("things = %v, want only the second transaction's row", got)
	}
}

func TestInSavepoint_failureLeavesTheOuterTransactionUsable(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	err := sqldb.InTx(context.Background(), db, func(ctx context.Context, tx *sql.Tx) error {
		if err := insert(ctx, tx, "outer-1"); err != nil {
			return err
		}
		err := sqldb.InSavepoint(ctx, db, func(ctx context.Context, tx *sql.Tx) error {
			if err := insert(ctx, tx, "inner"); err != nil {
				return err
			}
			// A unique violation: on PostgreSQL it aborts everything up to the last savepoint.
			return insert(ctx, tx, "outer-1")
		})
		if err == nil || !db.Dialect.IsUniqueViolation(err) {
			return fmt.Errorf("inner: err = %v, want a unique violation", err)
		}
		return insert(ctx, tx, "outer-2")
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := things(t, db); strings.Join(got, ",") != "outer-1,outer-2" {
		t.Errorf("things = %v, want the outer transaction's rows only", got)
	}
}

func TestInSavepoint_withoutATransactionIsInTx(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	if err := sqldb.InSavepoint(context.Background(), db, func(ctx context.Context, tx *sql.Tx) error { return insert(ctx, tx, "a") }); err != nil {
		t.Fatal(err)
	}
	errFail := errors.New("fail")
	err := sqldb.InSavepoint(context.Background(), db, func(ctx context.Context, tx *sql.Tx) error {
		if err := insert(ctx, tx, "b"); err != nil {
			return err
		}
		return errFail
	})
	if !errors.Is(err, errFail) {
		t.Fatal(err)
	}
	if got := things(t, db); strings.Join(got, ",") != "a" {
		t.Errorf("things = %v, want [a]", got)
	}
}

func TestDialect_recognisesUniqueViolations(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `INSERT INTO things (id) VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO things (id) VALUES ('a')`)
	if !db.Dialect.IsUniqueViolation(err) {
		t.Errorf("duplicate key: IsUniqueViolation(%v) = false", err)
	}
	if wrapped := fmt.Errorf("append: %w", err); !db.Dialect.IsUniqueViolation(wrapped) {
		t.Errorf("a wrapped duplicate key is not recognised: %v", wrapped)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO no_such_table (id) VALUES ('a')`)
	if err == nil || db.Dialect.IsUniqueViolation(err) {
		t.Errorf("missing table: IsUniqueViolation(%v) = true", err)
	}
	if db.Dialect.IsUniqueViolation(nil) {
		t.Error("IsUniqueViolation(nil) = true")
	}
}

// TestOpen_twoProcessesWriteTheSameDatabase is `serve` and a CLI command (tenant add, pass import) writing at
// once. On SQLite they are two connections to one file: the busy timeout makes one wait for the other.
func TestOpen_twoProcessesWriteTheSameDatabase(t *testing.T) {
	t.Parallel()
	url := sqldbtest.NewURL(t)
	ctx := context.Background()
	var dbs []*sqldb.DB
	for range 2 {
		db, err := sqldb.Open(ctx, url, sqldb.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs = append(dbs, db)
	}
	if _, err := dbs[0].ExecContext(ctx, `CREATE TABLE things (id TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*25)
	for p, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				errs <- sqldb.InTx(ctx, db, func(ctx context.Context, tx *sql.Tx) error {
					if err := insert(ctx, tx, fmt.Sprintf("p%d-%02d", p, i)); err != nil {
						return err
					}
					var n int
					return tx.QueryRowContext(ctx, `SELECT count(*) FROM things`).Scan(&n)
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a write failed: %v", err)
		}
	}
	if got := things(t, dbs[1]); len(got) != 50 {
		t.Errorf("%d rows, want 50", len(got))
	}
}

func TestOpen_sqliteIsDurableAndConcurrent(t *testing.T) {
	t.Parallel()
	db := sqldbtest.New(t)
	if db.Dialect.Name != sqldb.SQLite.Name {
		t.Skip("SQLite pragmas")
	}
	ctx := context.Background()
	for pragma, want := range map[string]string{
		"journal_mode": "wal", // readers never block the writer
		"synchronous":  "1",   // NORMAL: in WAL mode a commit is in the WAL before it returns, so it survives kill -9
		"foreign_keys": "1",
	} {
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	var timeout int
	if err := db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&timeout); err != nil {
		t.Fatal(err)
	}
	if timeout < 1000 {
		t.Errorf("busy_timeout = %d ms, want a few seconds so a CLI beside serve waits instead of failing", timeout)
	}
}

func TestOpen_sqliteSynchronousFullOnRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "full.db")
	db, err := sqldb.Open(ctx, "sqlite:"+path+"?synchronous=full", sqldb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got string
	if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "2" {
		t.Errorf("PRAGMA synchronous = %s, want 2 (FULL)", got)
	}
	if _, err := sqldb.Open(ctx, "sqlite:"+path+"?cache=shared", sqldb.Config{}); err == nil {
		t.Error("an unknown SQLite option was accepted")
	}
}

// TestWarm_opensConnectionsAheadOfNeed: after Warm each pool holds at least eight connections idle, or all it may
// hold if that is fewer.
func TestWarm_opensConnectionsAheadOfNeed(t *testing.T) {
	db := newDB(t)
	if err := db.Warm(t.Context()); err != nil {
		t.Fatal(err)
	}
	pools := map[string]*sql.DB{"the pool": db.DB, "the reader pool": db.Reader}
	for name, pool := range pools {
		stats := pool.Stats()
		if want := min(stats.MaxOpenConnections, 8); stats.Idle < want || stats.InUse != 0 {
			t.Errorf("%s after Warm: %d idle and %d in use, want at least %d idle", name, stats.Idle, stats.InUse, want)
		}
	}
}

// TestOpen_poolsHonourMaxConns: PASSPUSH_DB_MAX_CONNS bounds the connections of all pools together, and the
// default leaves room for four instances in PostgreSQL's default max_connections of 100.
func TestOpen_poolsHonourMaxConns(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		config sqldb.Config
		want   int
	}{
		{sqldb.Config{}, sqldb.DefaultMaxConns},
		{sqldb.Config{MaxConns: sqldb.MinMaxConns, MaxIdleTime: time.Minute}, sqldb.MinMaxConns},
		{sqldb.Config{MaxConns: 9, MaxIdleTime: time.Minute}, 9},
	} {
		db, err := sqldb.Open(t.Context(), sqldbtest.NewURL(t), c.config)
		if err != nil {
			t.Fatalf("open with %+v: %v", c.config, err)
		}
		t.Cleanup(func() { _ = db.Close() })
		total := db.Stats().MaxOpenConnections
		if db.Reader != db.DB {
			total += db.Reader.Stats().MaxOpenConnections
		}
		switch db.Dialect.Name {
		case sqldb.Postgres.Name:
			if total != c.want {
				t.Errorf("%+v: the pool opens up to %d connections, want %d", c.config, total, c.want)
			}
		default:
			// SQLite is a file, not a server's slots: one writer and a few readers, never more than the budget.
			if w, r := db.Stats().MaxOpenConnections, db.Reader.Stats().MaxOpenConnections; w != 1 || r < 1 || total > c.want {
				t.Errorf("%+v: %d writer and %d reader connections, want 1 writer and at most %d in all", c.config, w, r, c.want)
			}
		}
	}
	if 4*sqldb.DefaultMaxConns > 100-20 {
		t.Errorf("four instances at the default %d connections leave less than 20 of PostgreSQL's default 100", sqldb.DefaultMaxConns)
	}
}

func TestOpen_refusesABudgetTheServiceCannotRunIn(t *testing.T) {
	t.Parallel()
	for _, config := range []sqldb.Config{
		{MaxConns: sqldb.MinMaxConns - 1},
		{MaxConns: -1},
		{MaxIdleTime: -time.Second},
	} {
		db, err := sqldb.Open(t.Context(), sqldbtest.NewURL(t), config)
		if err == nil {
			_ = db.Close()
			t.Errorf("Open with %+v succeeded, want an error", config)
		}
	}
}

func TestOpen_makesTheSQLiteFilesReadableByTheOwnerOnly(t *testing.T) {
	t.Parallel()
	// Under the usual umask of 022, SQLite would make its files 0644: readable by every user of the host.
	path := filepath.Join(t.TempDir(), "passpush.db")
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+path, sqldb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.ExecContext(ctx, `CREATE TABLE things (id TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO things (id) VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %o: others can read it", filepath.Base(name), perm)
		}
	}
}
