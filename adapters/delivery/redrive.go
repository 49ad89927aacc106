package delivery

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/command"
	"github.com/passpush/passpush/domain/pass"
)

// Redriver queues failed updates again, for an operator's redrive.
//
// Exactly once: a DeliveryRedriven event and its update's row in the deliveries table commit in one transaction
// (with those of the other passes of the batch), or neither does. The event takes the next version of the pass's push stream, and (tenant,
// stream, version) is unique in the event store: that version is the guard. Of two redrives at once, one appends;
// the other's append conflicts, so it loads the pass again, finds the update no longer failed (the pass says so
// from the DeliveryRedriven now in its stream) and records nothing. A redrive killed before its commit left
// neither event nor row, and the next one redrives the update as if it had not run. An update redriven and
// delivered since has a PushUpdateEmitted after its redrive, and is not failed either. As a second guard, the row
// takes the update's event id, the deliveries table's key: an update queued already makes the insert, and so the
// whole redrive of that update, fail instead of queueing it twice.
type Redriver struct {
	queue  *Queue
	passes *passes.Repository
	events *eventstore.Store
}

var _ command.DeliveryRedriver = (*Redriver)(nil)

// NewRedriver returns a redriver that records on passes and queues on queue the updates stored in events.
func NewRedriver(queue *Queue, passes *passes.Repository, events *eventstore.Store) (*Redriver, error) {
	if queue == nil || passes == nil || events == nil {
		return nil, errors.New("new redriver: nil queue, pass repository or event store")
	}
	return &Redriver{queue: queue, passes: passes, events: events}, nil
}

// Redrive implements command.DeliveryRedriver.
func (r *Redriver) Redrive(ctx context.Context, tenantID string, passIDs []string, redrive func(p *pass.Pass) error) error {
	err := sqldb.InTx(ctx, r.queue.db, func(ctx context.Context, tx *sql.Tx) error {
		// The repository stores the passes' events in this transaction (it joins it), and calls the update
		// again after a version conflict: what an earlier call recorded is replaced each time.
		redriven := map[string][]pass.DeliveryRedriven{}
		err := r.passes.UpdateAll(ctx, tenantID, passIDs, func(p *pass.Pass) error {
			before := len(p.Changes())
			if err := redrive(p); err != nil {
				return err
			}
			var recorded []pass.DeliveryRedriven
			for _, e := range p.Changes()[before:] {
				if e, ok := e.(pass.DeliveryRedriven); ok {
					recorded = append(recorded, e)
				}
			}
			redriven[p.ID()] = recorded
			return nil
		})
		if err != nil {
			return err
		}
		var all []pass.DeliveryRedriven
		for _, id := range passIDs {
			all = append(all, redriven[id]...)
		}
		return r.queue.requeue(ctx, tx, r.events, tenantID, all, false)
	})
	if err != nil {
		return fmt.Errorf("redrive deliveries of %d passes of tenant %s: %w", len(passIDs), tenantID, err)
	}
	return nil
}

// requeue queues redriven updates, each from its redrive's progress, due at once and with no attempt spent. The
// rows are built from the updates' PassUpdateScheduled events, so they carry the same event id, data and
// correlation id as the first delivery. With ignoreQueued an update still queued is left as it is; without, it
// is an error.
func (q *Queue) requeue(ctx context.Context, tx *sql.Tx, events *eventstore.Store, tenantID string, redriven []pass.DeliveryRedriven, ignoreQueued bool) error {
	if len(redriven) == 0 {
		return nil
	}
	ids := make([]string, len(redriven))
	for i, e := range redriven {
		ids[i] = e.ScheduledEventID
	}
	scheduled, err := events.Get(ctx, tenantID, ids...)
	if err != nil {
		return err
	}
	rows := make([][]any, 0, len(redriven))
	for _, e := range redriven {
		stored, ok := scheduled[e.ScheduledEventID]
		if !ok {
			return fmt.Errorf("requeue update %s of tenant %s: no such PassUpdateScheduled event", e.ScheduledEventID, tenantID)
		}
		row, err := queuedOf(stored)
		if err != nil {
			return fmt.Errorf("requeue update %s: %w", e.ScheduledEventID, err)
		}
		row.Superseded = e.Superseded
		payload, err := json.Marshal(row)
		if err != nil {
			return fmt.Errorf("encode delivery of %s: %w", stored.ID, err)
		}
		progress := e.Progress
		if progress == nil {
			progress = []pass.ChannelResult{}
		}
		results, err := json.Marshal(progress)
		if err != nil {
			return fmt.Errorf("encode delivery progress of %s: %w", stored.ID, err)
		}
		rows = append(rows, []any{stored.ID, tenantID, row.PassID, stored.Version, string(payload), string(results), q.now().UnixMilli()})
	}
	onConflict := ""
	if ignoreQueued {
		onConflict = `ON CONFLICT (event_id) DO NOTHING`
	}
	err = q.db.Dialect.ExecRows(ctx, tx,
		`INSERT INTO deliveries (event_id, tenant_id, pass_id, stream_version, payload, results, next_attempt_at)`,
		onConflict, rows)
	if err != nil {
		return fmt.Errorf("requeue %d redriven deliveries: %w", len(rows), err)
	}
	return nil
}
