// Package delivery is the delivery queue. A projection turns each PassUpdateScheduled into a row of the
// deliveries table; the delivery stage (ports/delivery) claims due rows, pushes them to the pass's channels many
// at a time, and records the outcome event in the same transaction that deletes the row. Only the oldest pending
// delivery of a pass can be claimed, so the updates of one pass reach its channels in the order they were
// scheduled.
package delivery

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/push"
	"github.com/passpush/passpush/domain/pass"
)

// Queue is the deliveries table.
type Queue struct {
	db *sqldb.DB
	// stmts are the statements the stage runs all the time (claims, the due tenants, reschedules), prepared once
	// on SQLite.
	stmts *sqldb.Statements
	now   func() time.Time
	// scanned, when set by a test, runs after each claimed row is read.
	scanned func()
}

// NewQueue returns the delivery queue of db.
func NewQueue(db *sqldb.DB) (*Queue, error) {
	if db == nil {
		return nil, errors.New("new delivery queue: nil db")
	}
	return &Queue{db: db, stmts: sqldb.NewStatements(db, db.DB), now: time.Now}, nil
}

// queued is a row's payload. Its JSON names are the queue's own format, which rows already stored are in: they
// change only with a migration, whatever the webhook's body or push.Update become.
type queued struct {
	EventID              string            `json:"eventId"`
	TenantID             string            `json:"tenantId"`
	PassID               string            `json:"passId"`
	PassType             string            `json:"passType"`
	Revision             int               `json:"version"`
	Data                 map[string]string `json:"data"`
	Message              string            `json:"message"`
	JourneyID            string            `json:"journeyId"`
	ActivityID           string            `json:"activityId"`
	DefinitionInstanceID string            `json:"definitionInstanceId"`
	CorrelationID        string            `json:"correlationId,omitempty"`
	// Superseded marks a redriven update that a later one of its pass followed (pass.DeliveryRedriven): a claim
	// can no longer see that from the queue, where the later one may be delivered and gone.
	Superseded bool `json:"superseded,omitempty"`
}

func (r queued) update() push.Update {
	return push.Update{
		EventID: r.EventID, TenantID: r.TenantID, PassID: r.PassID, PassType: r.PassType, Revision: r.Revision,
		Data: r.Data, Message: r.Message, JourneyID: r.JourneyID, ActivityID: r.ActivityID,
		DefinitionInstanceID: r.DefinitionInstanceID,
	}
}

// Enqueue is the projection handler: each PassUpdateScheduled becomes a pending delivery, once.
func (q *Queue) Enqueue(ctx context.Context, events []eventstore.Event) error {
	var rows [][]any
	for _, e := range events {
		if e.Type != (pass.UpdateScheduled{}).Name() {
			continue
		}
		row, err := queuedOf(e)
		if err != nil {
			return fmt.Errorf("enqueue delivery: %w", err)
		}
		payload, err := json.Marshal(row)
		if err != nil {
			return fmt.Errorf("encode delivery of %s: %w", e.ID, err)
		}
		rows = append(rows, []any{e.ID, e.TenantID, row.PassID, e.Version, string(payload), q.now().UnixMilli()})
	}
	if len(rows) == 0 {
		return nil
	}
	return sqldb.InTx(ctx, q.db, func(ctx context.Context, tx *sql.Tx) error {
		err := q.db.Dialect.InsertRows(ctx, tx,
			`INSERT INTO deliveries (event_id, tenant_id, pass_id, stream_version, payload, next_attempt_at)`,
			`ON CONFLICT (event_id) DO NOTHING`, enqueueColumnTypes, rows)
		if err != nil {
			return fmt.Errorf("enqueue %d deliveries: %w", len(rows), err)
		}
		return nil
	})
}

// enqueueColumnTypes are the types of Enqueue's values: one statement text whatever the number of rows
// (sqldb.RowSource), which PostgreSQL parses and plans once per connection, where a VALUES list of each length
// was a statement of its own to prepare and plan.
var enqueueColumnTypes = []string{sqldb.TypeText, sqldb.TypeText, sqldb.TypeText, sqldb.TypeBigint, sqldb.TypeText, sqldb.TypeBigint}

// queuedOf is the row of a PassUpdateScheduled event.
func queuedOf(e eventstore.Event) (queued, error) {
	decoded, _, err := e.Decode()
	if err != nil {
		return queued{}, err
	}
	ev, ok := decoded.(pass.UpdateScheduled)
	if !ok {
		return queued{}, fmt.Errorf("event %s is a %s, not an update", e.ID, e.Type)
	}
	return queued{
		EventID: e.ID, TenantID: e.TenantID, PassID: strings.TrimPrefix(e.StreamID, passes.StreamPrefix),
		PassType: ev.PassType, Revision: ev.Revision, Data: ev.Data, Message: ev.Message,
		JourneyID: ev.JourneyID, ActivityID: ev.ActivityID, DefinitionInstanceID: ev.DefinitionInstanceID,
		CorrelationID: e.CorrelationID,
	}, nil
}

// Claim leases up to limit due deliveries, each the oldest pending one of its pass. A lease that runs out (the
// process died) makes the delivery claimable again: delivery is at least once, and receivers dedupe on eventId.
// A delivery is superseded when a later one of the same pass is queued behind it.
func (q *Queue) Claim(ctx context.Context, limit int, lease time.Duration) ([]push.Delivery, error) {
	// On PostgreSQL SKIP LOCKED passes over rows that another claim, a renewal or a finish holds instead of
	// waiting for them, so a claim never waits and cannot be part of a deadlock. A pass whose oldest delivery is
	// locked stays unclaimable: NOT EXISTS still sees that row. The outer lease check repeats the inner one, for
	// a row that changed between the subquery's snapshot and its lock.
	return q.claim(ctx, lease, func() (string, []any) {
		return `
			SELECT d.event_id FROM deliveries d
			WHERE ` + claimable + `
			ORDER BY d.next_attempt_at
			LIMIT $3` + q.db.Dialect.LockRows(true), []any{limit}
	})
}

// claimable is what a claim takes: a due delivery, not leased, the oldest pending one of its pass. $1 is now.
const claimable = `d.next_attempt_at <= $1 AND d.lease_until <= $1
			  AND NOT EXISTS (
				SELECT 1 FROM deliveries e
				WHERE e.tenant_id = d.tenant_id AND e.pass_id = d.pass_id AND e.stream_version < d.stream_version)`

// ClaimTenants is Claim with a limit per tenant: it leases up to each quota's limit of the tenant's oldest due
// deliveries, in one statement. Each tenant's part walks deliveries_tenant_due from the tenant's oldest due row,
// so a tenant with a large backlog costs the others nothing; a claim ordered across tenants would have to scan
// past that backlog to reach them.
func (q *Queue) ClaimTenants(ctx context.Context, quotas []push.TenantQuota, lease time.Duration) ([]push.Delivery, error) {
	if len(quotas) == 0 {
		return nil, nil
	}
	return q.claim(ctx, lease, func() (string, []any) {
		parts := make([]string, 0, len(quotas))
		args := make([]any, 0, 2*len(quotas))
		for i, quota := range quotas {
			tenant, limit := 3+2*i, 4+2*i
			parts = append(parts, fmt.Sprintf(`
			SELECT event_id FROM (
				SELECT d.event_id FROM deliveries d
				WHERE d.tenant_id = $%d AND `+claimable+`
				ORDER BY d.next_attempt_at
				LIMIT $%d`+q.db.Dialect.LockRows(true)+`) q%d`, tenant, limit, i))
			args = append(args, quota.TenantID, quota.Limit)
		}
		return strings.Join(parts, "\n\t\t\tUNION ALL"), args
	})
}

// DueTenants lists the tenants that have a due delivery nobody holds. It steps through deliveries_tenant_due one
// tenant at a time (a loose index scan, which neither database does by itself), so it costs one index lookup
// per tenant with deliveries, however many deliveries they have.
//
// On PostgreSQL it is planned with each call's values (Dialect.Planned). The stage runs it on every poll, so
// PostgreSQL soon gave it a generic plan, made while the table was nearly empty: two sequential scans of the
// whole table, a sort and a hash, where the index costs a lookup per tenant. The table is small while its rows
// come and go as fast as they are pushed, but updates held back for a Google turn stay in it for as long as
// the tenant's quota takes (2,000 updates for 40 s in bench/google), and each poll then read every one of them
// twice: the statement with the most database time in that phase, beside the webhook deliveries it competed
// with.
func (q *Queue) DueTenants(ctx context.Context) ([]string, error) {
	now := q.now().UnixMilli()
	rows, err := q.stmts.QueryContext(ctx, `
		WITH RECURSIVE t(id) AS (
			SELECT * FROM (SELECT tenant_id FROM deliveries ORDER BY tenant_id LIMIT 1) f
			UNION ALL
			SELECT (SELECT tenant_id FROM deliveries WHERE tenant_id > t.id ORDER BY tenant_id LIMIT 1)
			FROM t WHERE t.id IS NOT NULL)
		SELECT id FROM t
		WHERE id IS NOT NULL AND EXISTS (
			SELECT 1 FROM deliveries d WHERE d.tenant_id = t.id AND d.next_attempt_at <= $1 AND d.lease_until <= $1)`,
		q.db.Dialect.Planned(now)...)
	if err != nil {
		return nil, fmt.Errorf("list tenants with due deliveries: %w", err)
	}
	defer rows.Close()
	var tenants []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list tenants with due deliveries: %w", err)
		}
		tenants = append(tenants, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tenants with due deliveries: %w", err)
	}
	return tenants, nil
}

// claim leases the rows that pick selects: pick returns a SELECT of event_id over deliveries with its arguments,
// numbered from $3 ($1 is now, $2 the lease's end).
//
// The claim commits when its statement ends, before its rows are read, so a scan cut short would leave rows
// leased that nobody works on until their lease runs out. It is scanned in full whatever ctx says; the caller
// releases what it will not push. The lease bounds it instead: rows read after their lease ran out may already
// be someone else's. For the same reason a row that cannot be decoded fails alone: the claim returns the others
// with an error naming it, and it stays queued, leased, and is claimed again after its lease. A statement that
// fails while its rows are read leased none of them, and the claim returns none.
func (q *Queue) claim(ctx context.Context, lease time.Duration, pick func() (string, []any)) ([]push.Delivery, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lease)
	defer cancel()
	now := q.now().UnixMilli()
	selection, args := pick()
	rows, err := q.stmts.QueryContext(ctx, `
		UPDATE deliveries SET lease_until = $2
		WHERE event_id IN (`+selection+`)
		  AND lease_until <= $1
		RETURNING event_id, payload, attempts, results, EXISTS (
			SELECT 1 FROM deliveries l
			WHERE l.tenant_id = deliveries.tenant_id AND l.pass_id = deliveries.pass_id
			  AND l.stream_version > deliveries.stream_version)`,
		q.db.Dialect.Planned(append([]any{now, now + lease.Milliseconds()}, args...)...)...)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	defer rows.Close()
	var claimed []push.Delivery
	var failed error
	for rows.Next() {
		d, err := scanClaimed(rows)
		if q.scanned != nil {
			q.scanned()
		}
		if err != nil {
			failed = errors.Join(failed, err)
			continue
		}
		claimed = append(claimed, d)
	}
	if err := rows.Err(); err != nil {
		// The statement failed, and with it the leases: the rows read so far are not this claim's.
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return claimed, failed
}

// scanClaimed reads one row that claim leased.
func scanClaimed(rows *sql.Rows) (push.Delivery, error) {
	var d push.Delivery
	var eventID, payload, results string
	if err := rows.Scan(&eventID, &payload, &d.Attempts, &results, &d.Superseded); err != nil {
		return push.Delivery{}, fmt.Errorf("claim deliveries: %w", err)
	}
	var row queued
	if err := json.Unmarshal([]byte(payload), &row); err != nil {
		return push.Delivery{}, fmt.Errorf("decode delivery %s: %w", eventID, err)
	}
	d.Update, d.CorrelationID = row.update(), row.CorrelationID
	d.Superseded = d.Superseded || row.Superseded
	var err error
	if d.Progress, err = decodeProgress(results); err != nil {
		return push.Delivery{}, fmt.Errorf("decode delivery progress of %s: %w", eventID, err)
	}
	return d, nil
}

// decodeProgress reads a row's results. Rows written before channels recorded an outcome have only delivered,
// which meant the channel had settled.
func decodeProgress(results string) ([]pass.ChannelResult, error) {
	var progress []pass.ChannelResult
	if err := json.Unmarshal([]byte(results), &progress); err != nil {
		return nil, err
	}
	for i, r := range progress {
		if r.Delivered && r.Outcome == "" {
			progress[i].Outcome = push.ChannelDelivered
		}
	}
	return progress, nil
}

// Renew extends the lease of deliveries still in flight, in one statement, so a push that outlasts the lease is
// not claimed again elsewhere while a crashed holder's rows still come back after one short lease. A delivery
// handed back meanwhile (a retry, a release: lease 0) stays handed back. A holder that stalled for longer than a
// lease may extend the lease of another instance that took its delivery meanwhile: both push it, which
// at-least-once delivery allows (receivers dedupe on eventId).
func (q *Queue) Renew(ctx context.Context, eventIDs []string, lease time.Duration) error {
	if err := q.setLease(ctx, eventIDs, q.now().Add(lease).UnixMilli(), "lease_until > 0"); err != nil {
		return fmt.Errorf("renew the lease of %d deliveries: %w", len(eventIDs), err)
	}
	return nil
}

// Release hands claimed deliveries that were not pushed back at once, in one statement, instead of leaving them
// to their lease.
func (q *Queue) Release(ctx context.Context, eventIDs []string) error {
	if err := q.setLease(ctx, eventIDs, 0, "1 = 1"); err != nil {
		return fmt.Errorf("release %d deliveries: %w", len(eventIDs), err)
	}
	return nil
}

// setLease sets the lease of the deliveries that meet condition, locking them in event_id order.
func (q *Queue) setLease(ctx context.Context, eventIDs []string, until int64, condition string) error {
	if len(eventIDs) == 0 {
		return nil
	}
	in, args := q.db.Dialect.InList("event_id", 2, eventIDs)
	_, err := q.db.ExecContext(ctx, `
		UPDATE deliveries SET lease_until = $1
		WHERE event_id IN (
			SELECT event_id FROM deliveries WHERE `+in+` AND `+condition+`
			ORDER BY event_id`+q.db.Dialect.LockRows(false)+`)`,
		append([]any{until}, args...)...)
	return err
}

// RetryAll reschedules deliveries in one transaction: a flush writes hundreds at once when a channel's rate limit
// holds them back, and a transaction each kept the worker's slots, and the deliveries behind them, waiting.
//
// The rows go in one statement per retryChunk rows, not one each: when an update for the webhook and Google comes,
// its webhook is pushed at once and its Google push held back for its turn, so every update of a burst is
// rescheduled while the webhook's deliveries are still going out, and a statement per row made the flush that
// frees their slots a round trip per row long.
func (q *Queue) RetryAll(ctx context.Context, retries []push.Rescheduled) error {
	if len(retries) == 0 {
		return nil
	}
	// Rows in event_id order, as Finish locks them, so that two transactions that overlap (a lease ran out)
	// cannot deadlock.
	retries = slices.SortedFunc(slices.Values(retries), func(a, b push.Rescheduled) int {
		return strings.Compare(a.Delivery.Update.EventID, b.Delivery.Update.EventID)
	})
	rows := make([][]any, len(retries))
	for i, r := range retries {
		results, err := json.Marshal(r.Delivery.Progress)
		if err != nil {
			return fmt.Errorf("encode delivery progress: %w", err)
		}
		rows[i] = []any{r.Delivery.Update.EventID, int64(r.Delivery.Attempts), string(results), r.LastError, r.At.UnixMilli()}
	}
	return sqldb.InTx(ctx, q.db, func(ctx context.Context, tx *sql.Tx) error {
		for part := range slices.Chunk(rows, retryChunk) {
			source, args, err := q.db.Dialect.RowSource(1, rescheduleTypes, part)
			if err != nil {
				return fmt.Errorf("reschedule %d deliveries: %w", len(part), err)
			}
			// The rows are locked in event_id order first, as the subquery of setLease and Finish does.
			_, err = tx.ExecContext(ctx, `
				WITH r (event_id, attempts, results, last_error, next_attempt_at) AS (`+source+`)
				UPDATE deliveries SET attempts = r.attempts, results = r.results, last_error = r.last_error,
					next_attempt_at = r.next_attempt_at, lease_until = 0
				FROM r
				WHERE deliveries.event_id = r.event_id AND deliveries.event_id IN (
					SELECT event_id FROM deliveries WHERE event_id IN (SELECT event_id FROM r)
					ORDER BY event_id`+q.db.Dialect.LockRows(false)+`)`, args...)
			if err != nil {
				return fmt.Errorf("reschedule %d deliveries: %w", len(part), err)
			}
		}
		return nil
	})
}

// retryChunk bounds the rows of one reschedule statement: 5 parameters a row on SQLite, far below its limit.
const retryChunk = 1000

// rescheduleTypes are the columns RetryAll writes from: event_id, attempts, results, last_error, next_attempt_at.
var rescheduleTypes = []string{sqldb.TypeText, sqldb.TypeBigint, sqldb.TypeText, sqldb.TypeText, sqldb.TypeBigint}

// Finish removes finished deliveries in one transaction with record, which stores their outcomes, so that a
// delivery is removed exactly when its outcome is stored. Its rows are locked in event_id order, the order every
// statement that locks more than one delivery without skipping uses, so two of them cannot deadlock.
func (q *Queue) Finish(ctx context.Context, eventIDs []string, record func(ctx context.Context) error) error {
	if len(eventIDs) == 0 {
		return nil
	}
	return sqldb.InTx(ctx, q.db, func(ctx context.Context, tx *sql.Tx) error {
		if err := record(ctx); err != nil {
			return err
		}
		in, args := q.db.Dialect.InList("event_id", 1, slices.Sorted(slices.Values(eventIDs)))
		_, err := tx.ExecContext(ctx, `
			DELETE FROM deliveries
			WHERE event_id IN (SELECT event_id FROM deliveries WHERE `+in+` ORDER BY event_id`+q.db.Dialect.LockRows(false)+`)`,
			args...)
		if err != nil {
			return fmt.Errorf("finish %d deliveries: %w", len(eventIDs), err)
		}
		return nil
	})
}

// Pending counts the deliveries not finished yet, for the metrics, tests and benchmarks.
func (q *Queue) Pending(ctx context.Context) (int, error) {
	var n int
	if err := sqldb.ReaderFor(ctx, q.db).QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count deliveries: %w", err)
	}
	return n, nil
}

// Vacuum lets PostgreSQL reuse the space of delivered rows. Every delivery is a row inserted, leased and
// deleted, so the table turns over completely, and until a vacuum marks a deleted row's space free, new rows
// take new pages and every index grows: the table would bloat round after round whether or not autovacuum is on
// and keeps up (migration 00020 tunes it for this table). VACUUM takes a lock that neither reads nor writes wait
// on, and SKIP_LOCKED passes over the table rather than wait for another vacuum. SQLite reuses the pages of
// deleted rows by itself.
func (q *Queue) Vacuum(ctx context.Context) error {
	if q.db.Dialect.Name != sqldb.Postgres.Name {
		return nil
	}
	if _, err := q.db.ExecContext(ctx, `VACUUM (SKIP_LOCKED) deliveries`); err != nil {
		return fmt.Errorf("vacuum deliveries: %w", err)
	}
	return nil
}
