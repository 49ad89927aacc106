package delivery

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/domain/pass"
)

// RequeueUndelivered rebuilds the delivery queue from the event store: every PassUpdateScheduled that has
// neither a PushUpdateEmitted nor a PushUpdateFailed is queued again, unless it is still queued, and so is every
// update whose last DeliveryRedriven has no outcome after it, from that redrive's progress. It returns how many
// it queued. It repairs a database whose projections once skipped events (the poison topic of older
// builds); an update queued this way may reach the webhook after later revisions of its pass, with its own
// eventId and version, so a receiver can tell.
func (q *Queue) RequeueUndelivered(ctx context.Context, events *eventstore.Store) (int, error) {
	// An update whose transaction is still in flight elsewhere is not visible yet, and would be missed.
	if err := q.db.AwaitCommitted(ctx); err != nil {
		return 0, fmt.Errorf("requeue undelivered updates: %w", err)
	}
	queued := 0
	err := sqldb.InTx(ctx, q.db, func(ctx context.Context, tx *sql.Tx) error {
		var order []string
		undelivered := map[string]eventstore.Event{}
		// redriven are the redrives without an outcome yet, by the update's event id, with their tenant.
		type redrive struct {
			tenantID string
			event    pass.DeliveryRedriven
		}
		redriven := map[string]redrive{}
		err := events.Each(ctx, func(e *eventstore.Event) error {
			if _, ok := passes.PassIDOf(e.StreamID); !ok {
				return nil
			}
			decoded, known, err := e.Decode()
			if err != nil || !known {
				return err
			}
			switch ev := decoded.(type) {
			case pass.UpdateScheduled:
				undelivered[e.ID] = *e
				order = append(order, e.ID)
			case pass.PushUpdateEmitted:
				delete(undelivered, ev.ScheduledEventID)
				delete(redriven, ev.ScheduledEventID)
			case pass.PushUpdateFailed:
				delete(undelivered, ev.ScheduledEventID)
				delete(redriven, ev.ScheduledEventID)
			case pass.DeliveryRedriven:
				redriven[ev.ScheduledEventID] = redrive{tenantID: e.TenantID, event: ev}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read the event store: %w", err)
		}
		var pending []eventstore.Event
		for _, id := range order {
			if e, ok := undelivered[id]; ok {
				pending = append(pending, e)
			}
		}
		before, err := q.Pending(ctx)
		if err != nil {
			return err
		}
		if err := q.Enqueue(ctx, pending); err != nil {
			return err
		}
		byTenant := map[string][]pass.DeliveryRedriven{}
		for _, r := range redriven {
			byTenant[r.tenantID] = append(byTenant[r.tenantID], r.event)
		}
		for tenantID, redrives := range byTenant {
			if err := q.requeue(ctx, tx, events, tenantID, redrives, true); err != nil {
				return err
			}
		}
		after, err := q.Pending(ctx)
		queued = after - before
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("requeue undelivered updates: %w", err)
	}
	return queued, nil
}
