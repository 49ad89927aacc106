package audit

import (
	"context"
	"fmt"
	"strings"

	"github.com/passpush/passpush/adapters/audit/auditrow"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/query"
)

var _ query.EventsReader = (*Log)(nil)

// Events implements query.EventsReader: one page of the tenant's audit log after q.After, walked on the
// (tenant_id, position) index, or the journey's or the pass's when q names one.
//
// On PostgreSQL a reader that follows the last position it saw skips nothing, because one transaction at a time
// writes the log (the projections' consumer group holds its offsets row while it writes a batch), and its rows
// are numbered in that transaction: a row becomes visible only after every row numbered before it. A rebuild
// of the audit log numbers the rows anew (see Reset), and a feed reader then starts again from 0.
func (l *Log) Events(ctx context.Context, q query.Events) ([]query.Event, error) {
	where := []string{"tenant_id = $1", "position > $2"}
	args := []any{q.TenantID, q.After}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.JourneyID != "" {
		where = append(where, "journey_id = "+arg(q.JourneyID))
	}
	if q.PassID != "" {
		where = append(where, "pass_id = "+arg(q.PassID))
	}
	if len(q.Types) > 0 {
		var in []string
		for _, t := range q.Types {
			for _, form := range storedTypes(t) {
				in = append(in, arg(form))
			}
		}
		where = append(where, "event_type IN ("+strings.Join(in, ", ")+")")
	}
	// Times are compared in UTC: the log stores them so, and on SQLite, which keeps them as text, only the same
	// offset compares right.
	if !q.Since.IsZero() {
		where = append(where, "occurred_at >= "+arg(q.Since.UTC()))
	}
	if !q.Until.IsZero() {
		where = append(where, "occurred_at < "+arg(q.Until.UTC()))
	}
	rows, err := sqldb.ReaderFor(ctx, l.db).QueryContext(ctx, `
		SELECT position, event_type, occurred_at, stream_id, journey_id, pass_id, correlation_id, data FROM audit_log
		WHERE `+strings.Join(where, " AND ")+` ORDER BY position LIMIT `+arg(q.Limit), args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log of tenant %s after %d: %w", q.TenantID, q.After, err)
	}
	defer rows.Close()
	events := make([]query.Event, 0, q.Limit)
	for rows.Next() {
		var e query.Event
		var data []byte
		if err := rows.Scan(&e.Position, &e.Type, &e.OccurredAt, &e.StreamID, &e.JourneyID, &e.PassID, &e.CorrelationID, &data); err != nil {
			return nil, fmt.Errorf("read audit log of tenant %s: %w", q.TenantID, err)
		}
		e.OccurredAt = e.OccurredAt.UTC()
		e.StreamID = auditrow.StreamOf(e.StreamID, e.PassID)
		e.Type = auditrow.TypeOf(e.Type)
		if e.Data, err = DecodePayload(data); err != nil {
			return nil, fmt.Errorf("read audit log of tenant %s: event at %d: %w", q.TenantID, e.Position, err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log of tenant %s: %w", q.TenantID, err)
	}
	return events, nil
}
