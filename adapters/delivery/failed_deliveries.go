package delivery

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/pass"
)

// FailedDeliveries finds the updates whose last outcome is PushUpdateFailed, in the event store: a failure that
// no DeliveryRedriven of the same update follows in its pass's stream. The events_delivery_failures index holds
// just those two types, so a listing reads the tenant's failures and redrives, not its history.
type FailedDeliveries struct {
	db *sqldb.DB
}

var _ query.FailedDeliveriesReadModel = (*FailedDeliveries)(nil)

// NewFailedDeliveries returns the failed deliveries of db's event store.
func NewFailedDeliveries(db *sqldb.DB) (*FailedDeliveries, error) {
	if db == nil {
		return nil, errors.New("new failed deliveries: nil db")
	}
	return &FailedDeliveries{db: db}, nil
}

const selectFailures = `
	SELECT stream_id, event_type, occurred_at, ` + eventstore.PayloadColumns + ` FROM events
	WHERE tenant_id = $1 AND event_type IN ('PushUpdateFailed', 'DeliveryRedriven') AND `

// failureRow is a PushUpdateFailed or DeliveryRedriven event as a listing reads it.
type failureRow struct {
	stream string
	event  eventstore.Event
}

// FailedDeliveries implements query.FailedDeliveriesReadModel. A page is whole streams: q.Limit events in stream
// order, less the last stream's when the limit may have cut it (all of it when it is the page's only stream).
// q.After and Next are stream ids.
func (f *FailedDeliveries) FailedDeliveries(ctx context.Context, q query.FailedDeliveries) (query.FailedDeliveriesPage, error) {
	rows, err := f.read(ctx, selectFailures+`stream_id > $2 ORDER BY stream_id, stream_version LIMIT $3`, q.TenantID, q.After, q.Limit)
	if err != nil {
		return query.FailedDeliveriesPage{}, err
	}
	var page query.FailedDeliveriesPage
	if len(rows) == q.Limit {
		last := rows[len(rows)-1].stream
		if rows[0].stream == last {
			if rows, err = f.read(ctx, selectFailures+`stream_id = $2 ORDER BY stream_version`, q.TenantID, last); err != nil {
				return query.FailedDeliveriesPage{}, err
			}
		} else {
			rows = slices.DeleteFunc(rows, func(r failureRow) bool { return r.stream == last })
		}
		page.Next = rows[len(rows)-1].stream
	}
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].stream == rows[start].stream {
			end++
		}
		found, err := failuresOf(rows[start:end], q)
		if err != nil {
			return query.FailedDeliveriesPage{}, err
		}
		page.Deliveries = append(page.Deliveries, found...)
		start = end
	}
	return page, nil
}

func (f *FailedDeliveries) read(ctx context.Context, q string, args ...any) ([]failureRow, error) {
	rows, err := sqldb.ReaderFor(ctx, f.db).QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read failed deliveries: %w", err)
	}
	defer rows.Close()
	var out []failureRow
	for rows.Next() {
		var r failureRow
		var text string
		var packed []byte
		if err := rows.Scan(&r.stream, &r.event.Type, &r.event.OccurredAt, &text, &packed); err != nil {
			return nil, fmt.Errorf("read failed deliveries: %w", err)
		}
		payload, err := eventstore.DecodePayload(text, packed)
		if err != nil {
			return nil, fmt.Errorf("read failed deliveries of stream %s: %w", r.stream, err)
		}
		r.event.StreamID, r.event.Payload, r.event.OccurredAt = r.stream, payload, r.event.OccurredAt.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read failed deliveries: %w", err)
	}
	return out, nil
}

// failuresOf returns the open failures of one pass's stream that q keeps, by revision.
func failuresOf(stream []failureRow, q query.FailedDeliveries) ([]query.FailedDelivery, error) {
	passID, _ := passes.PassIDOf(stream[0].stream)
	open := map[int]query.FailedDelivery{}
	for _, r := range stream {
		decoded, _, err := r.event.Decode()
		if err != nil {
			return nil, fmt.Errorf("read failed deliveries of pass %s: %w", passID, err)
		}
		switch e := decoded.(type) {
		case pass.DeliveryRedriven:
			delete(open, e.Revision)
		case pass.PushUpdateFailed:
			d := query.FailedDelivery{PassID: passID, EventID: e.ScheduledEventID, Revision: e.Revision,
				JourneyID: e.JourneyID, FailedAt: r.event.OccurredAt, Reason: e.Reason}
			for _, c := range e.Channels {
				if c.FailedForGood() {
					d.Channels = append(d.Channels, query.FailedChannel{Channel: c.Channel, Detail: c.Detail})
				}
			}
			open[e.Revision] = d
		}
	}
	var kept []query.FailedDelivery
	for _, revision := range slices.Sorted(maps.Keys(open)) {
		d := open[revision]
		switch {
		case len(d.Channels) == 0:
			// An outcome of an older build that names no channel: there is nothing a redrive could push again.
		case q.JourneyID != "" && d.JourneyID != q.JourneyID:
		case !q.Since.IsZero() && d.FailedAt.Before(q.Since):
		case q.Channel != "" && !slices.ContainsFunc(d.Channels, func(c query.FailedChannel) bool { return c.Channel == q.Channel }):
		default:
			kept = append(kept, d)
		}
	}
	return kept, nil
}
