package delivery

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/domain/pass"
)

// HoldProjections keeps the live projections (the delivery projection among them) from committing a batch until
// tx ends, and returns the events they have not acked yet: those they will queue themselves.
type HoldProjections func(ctx context.Context, tx *sql.Tx) (unacked []eventstore.Event, err error)

// requeueBatch is how many updates one transaction of RequeueUndelivered looks at: each holds the live
// projections for a few milliseconds.
const requeueBatch = 200

// RequeueUndelivered rebuilds the delivery queue from the event store while serve runs: every PassUpdateScheduled
// that has neither a PushUpdateEmitted nor a PushUpdateFailed, that is not queued, and that the live delivery
// projection has already passed, is queued again. It returns how many it queued; dry, how many it would queue,
// changing nothing. It repairs a database whose projections once skipped events (the poison topic of older
// builds); an update queued this way may reach the webhook after later revisions of its pass, with its own
// eventId and version, so a receiver can tell.
//
// Rebuilding the queue means this, and not emptying and refilling it: a queued row holds what its delivery did
// (attempts, the channels that settled, its lease), which no event records until its outcome. So the queue keeps
// every row, and gains only the updates it lost.
//
// An update is never queued twice, nor after its outcome: each batch holds the live projections (an update
// they have not acked yet is theirs to queue), locks the rows it finds (waiting for a delivery finishing at that
// moment), and for the updates with no row reads their pass's later events for an outcome, committed by then.
func (q *Queue) RequeueUndelivered(ctx context.Context, events *eventstore.Store, hold HoldProjections, dryRun bool) (int, error) {
	var order []string
	undelivered := map[string]eventstore.Event{}
	// redriven are the updates whose last DeliveryRedriven has no outcome after it, by the update's event id.
	redriven := map[string]redrive{}
	redrives := map[string]int{}
	err := events.Each(ctx, func(e *eventstore.Event) error {
		switch e.Type {
		case pass.UpdateScheduled{}.Name():
			undelivered[e.ID] = *e
			order = append(order, e.ID)
		case pass.PushUpdateEmitted{}.Name(), pass.PushUpdateFailed{}.Name():
			if id, err := scheduledEventOf(e); err != nil {
				return err
			} else if id != "" {
				delete(undelivered, id)
				delete(redriven, id)
			}
		case pass.DeliveryRedriven{}.Name():
			decoded, _, err := e.Decode()
			if err != nil {
				return err
			}
			ev := decoded.(pass.DeliveryRedriven)
			redrives[ev.ScheduledEventID]++
			redriven[ev.ScheduledEventID] = redrive{tenantID: e.TenantID, passStream: e.StreamID, event: ev, count: redrives[ev.ScheduledEventID]}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("requeue undelivered updates: read the event store: %w", err)
	}
	var candidates []eventstore.Event
	for _, id := range order {
		if e, ok := undelivered[id]; ok {
			candidates = append(candidates, e)
		}
	}
	queued := 0
	for start := 0; start < len(candidates); start += requeueBatch {
		batch := candidates[start:min(start+requeueBatch, len(candidates))]
		err := sqldb.InTx(ctx, q.db, func(ctx context.Context, tx *sql.Tx) error {
			lost, err := q.lost(ctx, tx, hold, batch)
			if err != nil || len(lost) == 0 || dryRun {
				queued += len(lost)
				return err
			}
			if err := q.Enqueue(ctx, lost); err != nil {
				return err
			}
			queued += len(lost)
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("requeue undelivered updates: %w", err)
		}
	}
	n, err := q.requeueRedriven(ctx, events, hold, redriven, dryRun)
	if err != nil {
		return 0, fmt.Errorf("requeue redriven updates: %w", err)
	}
	return queued + n, nil
}

// redrive is an update's last DeliveryRedriven, and how many redrives the update had.
type redrive struct {
	tenantID   string
	passStream string
	event      pass.DeliveryRedriven
	count      int
}

// requeueRedriven queues again, from its redrive's progress, each redriven update that has no outcome after its
// last redrive and is not queued: the same guards as for the updates, in batches, holding the live projections.
// An update is pending after its redrives while it has no more outcomes than redrives (its first outcome came
// before the first redrive).
func (q *Queue) requeueRedriven(ctx context.Context, events *eventstore.Store, hold HoldProjections, redriven map[string]redrive, dryRun bool) (int, error) {
	ids := slices.Sorted(maps.Keys(redriven))
	queued := 0
	for start := 0; start < len(ids); start += requeueBatch {
		batch := ids[start:min(start+requeueBatch, len(ids))]
		err := sqldb.InTx(ctx, q.db, func(ctx context.Context, tx *sql.Tx) error {
			if _, err := hold(ctx, tx); err != nil {
				return err
			}
			queuedIDs, err := q.lockQueued(ctx, tx, batch)
			if err != nil {
				return err
			}
			byTenant := map[string][]pass.DeliveryRedriven{}
			for _, id := range batch {
				r := redriven[id]
				if queuedIDs[id] {
					continue
				}
				n, err := q.outcomes(ctx, tx, eventstore.Event{ID: id, TenantID: r.tenantID, StreamID: r.passStream})
				if err != nil {
					return err
				}
				if n <= r.count {
					byTenant[r.tenantID] = append(byTenant[r.tenantID], r.event)
					queued++
				}
			}
			if dryRun {
				return nil
			}
			for tenantID, redrives := range byTenant {
				if err := q.requeue(ctx, tx, events, tenantID, redrives, true); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	return queued, nil
}

// lost returns the updates among batch that are not queued, have no outcome, and that the live projections have
// passed, in tx, holding the projections.
func (q *Queue) lost(ctx context.Context, tx *sql.Tx, hold HoldProjections, batch []eventstore.Event) ([]eventstore.Event, error) {
	unacked, err := hold(ctx, tx)
	if err != nil {
		return nil, err
	}
	skip := make(map[string]bool, len(unacked))
	for _, e := range unacked {
		skip[e.ID] = true
	}
	ids := make([]string, len(batch))
	for i, e := range batch {
		ids[i] = e.ID
	}
	queued, err := q.lockQueued(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	for id := range queued {
		skip[id] = true
	}
	var lost []eventstore.Event
	for _, e := range batch {
		if skip[e.ID] {
			continue
		}
		n, err := q.outcomes(ctx, tx, e)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			lost = append(lost, e)
		}
	}
	return lost, nil
}

// lockQueued returns which of the updates ids are queued, locking their rows: FOR UPDATE waits for a delivery
// that is finishing, and once it commits its row is gone and its outcome stored, which outcomes then reads.
func (q *Queue) lockQueued(ctx context.Context, tx *sql.Tx, ids []string) (map[string]bool, error) {
	in, args := q.db.Dialect.InList("event_id", 1, ids)
	rows, err := tx.QueryContext(ctx, `SELECT event_id FROM deliveries WHERE `+in+` ORDER BY event_id`+q.db.Dialect.LockRows(false), args...)
	if err != nil {
		return nil, fmt.Errorf("read queued deliveries: %w", err)
	}
	defer rows.Close()
	queued := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read queued deliveries: %w", err)
		}
		queued[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read queued deliveries: %w", err)
	}
	return queued, nil
}

// outcomes counts the outcomes of the update in its pass's streams, whatever the transaction order: they are in
// the pass's push stream (passes.PushStreamID), and in its own stream in databases from before the push stream
// existed. A redriven update has one more for each redrive that ended.
func (q *Queue) outcomes(ctx context.Context, tx *sql.Tx, update eventstore.Event) (int, error) {
	passID, _ := passes.PassIDOf(update.StreamID)
	rows, err := tx.QueryContext(ctx, `SELECT event_id, event_type, `+eventstore.PayloadColumns+` FROM events
		WHERE tenant_id = $1 AND stream_id IN ($2, $3) AND event_type IN ($4, $5)`,
		update.TenantID, passes.StreamID(passID), passes.PushStreamID(passID), pass.PushUpdateEmitted{}.Name(), pass.PushUpdateFailed{}.Name())
	if err != nil {
		return 0, fmt.Errorf("read the outcomes of pass %s: %w", passID, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var e eventstore.Event
		var text string
		var packed []byte
		if err := rows.Scan(&e.ID, &e.Type, &text, &packed); err != nil {
			return 0, fmt.Errorf("read the outcomes of pass %s: %w", passID, err)
		}
		if e.Payload, err = eventstore.DecodePayload(text, packed); err != nil {
			return 0, fmt.Errorf("read the outcomes of pass %s: event %s: %w", passID, e.ID, err)
		}
		id, err := scheduledEventOf(&e)
		if err != nil {
			return 0, err
		}
		if id == update.ID {
			n++
		}
	}
	return n, rows.Err()
}

// scheduledEventOf is the id of the update an outcome event is the outcome of.
func scheduledEventOf(e *eventstore.Event) (string, error) {
	decoded, _, err := e.Decode()
	if err != nil {
		return "", err
	}
	switch ev := decoded.(type) {
	case pass.PushUpdateEmitted:
		return ev.ScheduledEventID, nil
	case pass.PushUpdateFailed:
		return ev.ScheduledEventID, nil
	}
	return "", nil
}
