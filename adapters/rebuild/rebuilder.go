// Package rebuild rebuilds projections while serve runs: it fills new tables from the event store in short
// transactions, catches up with the events that arrive meanwhile, and swaps the new tables in with one short
// transaction that holds the live projections' consumer group. Until then readers see the old tables.
package rebuild

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/rebuild"
	"github.com/sirupsen/logrus"
)

// Handler applies the events of one batch, in order, in the context's transaction.
type Handler func(ctx context.Context, events []eventstore.Event) error

// Target is a projection that a rebuild can fill anew: its table, and its handler writing to any table shaped
// like it.
type Target struct {
	Name  string
	Table string
	// Key is the columns that name a row, for a dry run's report.
	Key []string
	// Ignore is the columns a dry run does not compare: the audit log's positions are given anew by a rebuild.
	Ignore []string
	// Into returns the projection's handler writing to table.
	Into func(table string) Handler
	// Keep is the live rows the event store can no longer make, which the new table takes as they are before it
	// is filled: the rows of passes whose first events passpush events archive moved out of the store.
	Keep Keep
}

// Keep selects live rows for a rebuild to carry over.
type Keep struct {
	// Where is a condition on the live table's rows, which it names by its own name; empty keeps none.
	Where string
	// Columns are the columns carried over, every one when empty: a column a new table numbers anew is left out.
	Columns []string
	// OrderBy orders the rows carried over, so that what the new table numbers keeps their order.
	OrderBy string
}

const (
	rebuildSuffix = "_rebuild"
	dryRunSuffix  = "_dryrun"
	// page is how many events one fill transaction applies: on SQLite it holds the single writer for tens of
	// milliseconds.
	page = 5000
	// caughtUp is how few events may be left before the swap; the swap applies them while it holds the live
	// projections.
	caughtUp = page
	// swapLockTimeout bounds how long the swap waits for a lock (the consumer group's batch in flight, the live
	// tables' readers), and so how long those readers can wait behind it.
	swapLockTimeout = 300 * time.Millisecond
	swapAttempts    = 20
)

// Rebuilder rebuilds projections on one database.
type Rebuilder struct {
	db     *sqldb.DB
	events *eventstore.Store
	// group is the live projections' consumer group, which the swap holds.
	group  string
	schema schema
	log    *logrus.Entry
}

// New returns a rebuilder of the projections that consumer group group feeds.
func New(db *sqldb.DB, events *eventstore.Store, group string, log *logrus.Entry) (*Rebuilder, error) {
	if db == nil || events == nil || log == nil || group == "" {
		return nil, errors.New("new rebuilder: db, event store, consumer group and log are required")
	}
	return &Rebuilder{db: db, events: events, group: group, schema: schemaOf(db.Dialect), log: log}, nil
}

// errDryRun rolls back a dry run's comparison, which applies the events not acked yet to the live tables.
var errDryRun = errors.New("dry run")

// Rebuild fills new tables for targets and swaps them in, or, dry, compares them with the live ones and drops
// them. It returns how many events it applied and, dry, the differences.
func (r *Rebuilder) Rebuild(ctx context.Context, targets []Target, options rebuild.Options) (rebuild.Report, error) {
	start := time.Now()
	report := rebuild.Report{}
	suffix := rebuildSuffix
	if options.DryRun {
		suffix = dryRunSuffix
	}
	progress := newMeter(options.Progress, start)
	total, err := r.countEvents(ctx)
	if err != nil {
		return report, err
	}
	progress.total = total

	copies := make([]*copyOf, len(targets))
	handlers := make([]Handler, len(targets))
	defer func() {
		// A rebuild that fails or is interrupted leaves the live tables as they were; its copies go.
		for _, c := range copies {
			if c != nil && (options.DryRun || !c.swapped) {
				if err := r.schema.drop(context.WithoutCancel(ctx), r.db, c.table); err != nil {
					r.log.WithError(err).WithField("table", c.table).Warn("could not drop a rebuild's table")
				}
			}
		}
	}()
	for i, t := range targets {
		report.Projections = append(report.Projections, t.Name)
		if copies[i], err = r.schema.create(ctx, r.db, t.Table, t.Table+suffix, suffix); err != nil {
			return report, fmt.Errorf("rebuild %s: %w", t.Name, err)
		}
		handlers[i] = t.Into(copies[i].table)
		if err := r.keep(ctx, t, copies[i].table); err != nil {
			return report, fmt.Errorf("rebuild %s: %w", t.Name, err)
		}
	}
	apply := func(ctx context.Context, events []eventstore.Event) error {
		for i, h := range handlers {
			if err := h(ctx, events); err != nil {
				return fmt.Errorf("rebuild %s: %w", targets[i].Name, err)
			}
		}
		return nil
	}
	if !r.schema.indexAfterFill() {
		if err := r.createIndexes(ctx, copies); err != nil {
			return report, err
		}
	}
	progress.phase = "fill"
	after, err := r.fill(ctx, eventstore.Position{}, apply, progress)
	if err != nil {
		return report, err
	}
	for _, c := range copies {
		if err := r.schema.persist(ctx, r.db, c); err != nil {
			return report, err
		}
	}
	if r.schema.indexAfterFill() {
		progress.phase = "index"
		progress.report(true)
		if err := r.createIndexes(ctx, copies); err != nil {
			return report, err
		}
		// Building the indexes took a while: catch up with what arrived meanwhile before holding anything.
		progress.phase = "catch-up"
		if after, err = r.fill(ctx, after, apply, progress); err != nil {
			return report, err
		}
	}
	progress.phase = "swap"
	if options.DryRun {
		progress.phase = "compare"
	}
	progress.report(true)
	err = r.swap(ctx, func(ctx context.Context, tx *sql.Tx) error {
		unacked, err := holdGroup(ctx, r.db, tx, r.group)
		if err != nil {
			return err
		}
		if _, err := r.catchUp(ctx, after, apply, progress); err != nil {
			return err
		}
		// The live projections will apply these after the swap, to the new tables; applied now too, the new
		// tables match what the old ones will have been, so a dry run compares like with like.
		if err := apply(ctx, unacked); err != nil {
			return err
		}
		if options.DryRun {
			for _, t := range targets {
				if err := t.Into(t.Table)(ctx, unacked); err != nil {
					return fmt.Errorf("apply the events not acked yet to %s: %w", t.Table, err)
				}
			}
			for i, t := range targets {
				d, err := r.compare(ctx, tx, t, copies[i].table)
				if err != nil {
					return err
				}
				report.Differences = append(report.Differences, d)
			}
			return errDryRun
		}
		for _, c := range copies {
			if err := r.schema.swap(ctx, tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return report, err
	}
	if !options.DryRun {
		for _, c := range copies {
			c.swapped = true
		}
		for _, c := range copies {
			if err := r.schema.retire(ctx, r.db, c); err != nil {
				r.log.WithError(err).WithField("table", c.live).Warn("could not drop the table a rebuild replaced")
			}
		}
	}
	progress.report(true)
	report.Events = progress.done
	report.Took = time.Since(start)
	return report, nil
}

// keep copies t's live rows that t.Keep selects into table, in one statement.
func (r *Rebuilder) keep(ctx context.Context, t Target, table string) error {
	if t.Keep.Where == "" {
		return nil
	}
	columns := "*"
	if len(t.Keep.Columns) > 0 {
		columns = strings.Join(t.Keep.Columns, ", ")
	}
	into := table
	if columns != "*" {
		into += " (" + columns + ")"
	}
	q := `INSERT INTO ` + into + ` SELECT ` + columns + ` FROM ` + t.Table + ` WHERE ` + t.Keep.Where
	if t.Keep.OrderBy != "" {
		q += ` ORDER BY ` + t.Keep.OrderBy
	}
	if _, err := r.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("keep the rows of %s the store can no longer make: %w", t.Table, err)
	}
	return nil
}

func (r *Rebuilder) createIndexes(ctx context.Context, copies []*copyOf) error {
	for _, c := range copies {
		for _, q := range c.indexes {
			if _, err := r.db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("index %s: %s: %w", c.table, q, err)
			}
		}
	}
	return nil
}

func (r *Rebuilder) countEvents(ctx context.Context) (int64, error) {
	var n int64
	if err := r.db.Reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count the events: %w", err)
	}
	return n, nil
}

// fill applies the events after a position, a page per transaction, until fewer than caughtUp are left. The
// next page is read while one is written.
func (r *Rebuilder) fill(ctx context.Context, after eventstore.Position, apply Handler, progress *meter) (eventstore.Position, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type read struct {
		events []eventstore.Event
		err    error
	}
	pages := make(chan read, 2)
	go func() {
		defer close(pages)
		from := after
		for {
			events, err := r.events.ReadAll(ctx, from, page)
			select {
			case pages <- read{events, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || len(events) < caughtUp {
				return
			}
			from = events[len(events)-1].Position
		}
	}()
	for p := range pages {
		if p.err != nil {
			return after, fmt.Errorf("read the event store: %w", p.err)
		}
		if len(p.events) == 0 {
			break
		}
		err := sqldb.InTx(ctx, r.db, func(ctx context.Context, _ *sql.Tx) error { return apply(ctx, p.events) })
		if err != nil {
			return after, err
		}
		after = p.events[len(p.events)-1].Position
		progress.add(len(p.events))
	}
	return after, nil
}

// catchUp applies, in the context's transaction, every event visible after a position.
func (r *Rebuilder) catchUp(ctx context.Context, after eventstore.Position, apply Handler, progress *meter) (eventstore.Position, error) {
	for {
		events, err := r.events.ReadAll(ctx, after, page)
		if err != nil {
			return after, fmt.Errorf("read the event store: %w", err)
		}
		if len(events) == 0 {
			return after, nil
		}
		if err := apply(ctx, events); err != nil {
			return after, err
		}
		after = events[len(events)-1].Position
		progress.add(len(events))
	}
}

// swap runs fn in a transaction that waits at most swapLockTimeout for each lock, trying again when a lock
// was not free in time: a reader of the live tables never waits longer than that behind it.
func (r *Rebuilder) swap(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	var err error
	for attempt := 1; attempt <= swapAttempts; attempt++ {
		err = sqldb.InTx(ctx, r.db, func(ctx context.Context, tx *sql.Tx) error {
			if r.db.Dialect.Name == sqldb.Postgres.Name {
				if _, err := tx.ExecContext(ctx, fmt.Sprintf(`SET LOCAL lock_timeout = '%dms'`, swapLockTimeout.Milliseconds())); err != nil {
					return fmt.Errorf("bound the swap's lock waits: %w", err)
				}
			}
			return fn(ctx, tx)
		})
		if !lockTimedOut(err) {
			return err
		}
		r.log.WithField("attempt", attempt).Info("the swap waited too long for a lock; trying again")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
	return fmt.Errorf("swap the rebuilt tables in: %d tries each waited too long for a lock: %w", swapAttempts, err)
}

func lockTimedOut(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03"
}
