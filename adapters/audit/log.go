// Package audit keeps the audit log: a projection of every event, and the queries on it.
package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/passpush/passpush/adapters/audit/auditrow"
	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/passes"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/app/query"
	"github.com/passpush/passpush/domain/activity"
	"github.com/passpush/passpush/domain/pass"
)

// Log is the audit_log table.
type Log struct {
	db *sqldb.DB
	// table is the table Handle writes: audit_log, or a rebuild's new table (Into). Queries read audit_log.
	table string
}

var _ query.AuditReader = (*Log)(nil)

// NewLog returns the audit log of db.
func NewLog(db *sqldb.DB) (*Log, error) {
	if db == nil {
		return nil, errors.New("new audit log: nil db")
	}
	return &Log{db: db, table: "audit_log"}, nil
}

// Into returns the log whose Handle writes to table, a table shaped like audit_log, for an online rebuild.
func (l *Log) Into(table string) *Log { return &Log{db: l.db, table: table} }

// auditColumnTypes are the types of the columns Handle writes.
var auditColumnTypes = []string{sqldb.TypeUUID, sqldb.TypeText, sqldb.TypeText, sqldb.TypeText, sqldb.TypeTimestamptz, sqldb.TypeText,
	sqldb.TypeText, sqldb.TypeText, sqldb.TypeBytea, sqldb.TypeText}

// dedupe is what makes the projection idempotent: an event handed over again (the events a rebuild's swap applies
// to its new table, which the live projections apply again after it) finds its row by its key and adds none. The
// key's unique index covers only the rows not archived (migration 00026): an archived event is never handed over
// again, since every consumer group had handled it before it left the store, and a rebuild no longer reads it.
// On SQLite the index covers every row, and the same clause finds it.
const dedupe = `ON CONFLICT (event_id) WHERE NOT archived DO NOTHING`

// Handle is the projection handler: it records each event of a batch once, with one statement, in the
// subscriber's transaction.
func (l *Log) Handle(ctx context.Context, events []eventstore.Event) error {
	rows := make([][]any, len(events))
	for i, e := range events {
		journeyID, passID := Subject(e)
		data, err := encodePayload(e.Payload)
		if err != nil {
			return fmt.Errorf("audit event %s: %w", e.ID, err)
		}
		// The id as a uuid, the pass's streams without the pass id and the type as a code (auditrow): about 70 bytes
		// a row less, which the log keeps for good.
		key, textID := auditrow.EventKey(e.ID)
		rows[i] = []any{key, textID, e.TenantID, auditrow.StoredType(e.Type), e.OccurredAt.UTC(), journeyID, passID, e.CorrelationID, data,
			auditrow.StoredStream(e.StreamID, passID)}
	}
	return sqldb.InTx(ctx, l.db, func(ctx context.Context, tx *sql.Tx) error {
		err := l.db.Dialect.InsertRows(ctx, tx,
			`INSERT INTO `+l.table+` (event_id, event_text_id, tenant_id, event_type, occurred_at, journey_id, pass_id, correlation_id, data, stream_id)`,
			dedupe, auditColumnTypes, rows)
		if err != nil {
			return fmt.Errorf("audit %d events from %s: %w", len(events), events[0].ID, err)
		}
		return nil
	})
}

// Subject is the journey and the pass an event is about, as the audit log and the event archive record them. The
// payload is decoded once: the split's decisions come thousands a second, and decoding each twice was a measurable
// share of the projection.
func Subject(e eventstore.Event) (journeyID, passID string) {
	passID, _ = passes.PassIDOf(e.StreamID)
	decoded, _, err := e.Decode()
	if err != nil {
		return "", passID
	}
	if d, ok := decoded.(activity.PassCheckDecided); ok {
		// A decision's stream is its own (adapters/activities.PassCheckLog); its pass is in its payload.
		return d.JourneyID, d.PassID
	}
	return journeyOf(decoded), passID
}

// journeyOf is the journey an event belongs to: the journey of a pass's update and of its outcome, the
// interaction of an activity's lifecycle call. Other events, and one that does not decode, have none: the audit
// log records every event, whatever its payload.
func journeyOf(decoded eventstore.DomainEvent) string {
	switch ev := decoded.(type) {
	case pass.UpdateScheduled:
		return ev.JourneyID
	case pass.PushUpdateEmitted:
		return ev.JourneyID
	case pass.PushUpdateFailed:
		return ev.JourneyID
	case pass.DeliveryRedriven:
		return ev.JourneyID
	case activity.Lifecycle:
		return ev.InteractionID
	}
	return ""
}

// List implements query.AuditReader.
func (l *Log) List(ctx context.Context, q query.AuditLog) ([]query.AuditEvent, error) {
	where, whereArgs := []string{"tenant_id = $1", "position > $2"}, []any{q.TenantID, q.After}
	if q.Type != "" {
		in, inArgs := l.db.Dialect.InList("event_type", len(whereArgs)+1, storedTypes(q.Type))
		where = append(where, in)
		whereArgs = append(whereArgs, inArgs...)
	}
	clause, args := sqldb.Page{
		Where:   where,
		Args:    whereArgs,
		Filters: [][2]string{{"journey_id", q.JourneyID}, {"pass_id", q.PassID}},
		OrderBy: "position",
		Limit:   q.Limit,
	}.SQL()
	rows, err := sqldb.ReaderFor(ctx, l.db).QueryContext(ctx, `
		SELECT position, event_type, occurred_at, journey_id, pass_id, correlation_id, data FROM audit_log `+clause, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	defer rows.Close()
	events := []query.AuditEvent{}
	for rows.Next() {
		var e query.AuditEvent
		var data []byte
		if err := rows.Scan(&e.Position, &e.Type, &e.OccurredAt, &e.JourneyID, &e.PassID, &e.CorrelationID, &data); err != nil {
			return nil, fmt.Errorf("list audit log: %w", err)
		}
		e.OccurredAt = e.OccurredAt.UTC()
		e.Type = auditrow.TypeOf(e.Type)
		if e.Data, err = DecodePayload(data); err != nil {
			return nil, fmt.Errorf("list audit log: event at %d: %w", e.Position, err)
		}
		events = append(events, e)
	}
	return events, rows.Err()
}

// storedTypes are the forms a row may store type in: its code (auditrow.StoredType), and its name, which a row
// written before the type had a code holds. Matching both lets a type take a code without rewriting its rows.
func storedTypes(name string) []string {
	if code := auditrow.StoredType(name); code != name {
		return []string{code, name}
	}
	return []string{name}
}

// MarkArchived records that the tenant's events with the given ids left the store, in the context's transaction,
// which is the one that deletes them (adapters/eventarchive): their rows leave the event id's index, which only an
// event that can be handed to the projection again needs. It returns how many rows it flagged.
func (l *Log) MarkArchived(ctx context.Context, tenantID string, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i], _ = auditrow.EventKey(id)
	}
	var marked int64
	err := sqldb.InTx(ctx, l.db, func(ctx context.Context, tx *sql.Tx) error {
		// The key's index finds the rows: it still holds every row not flagged yet.
		in, args := l.db.Dialect.InList("event_id", 2, keys)
		res, err := tx.ExecContext(ctx, `UPDATE audit_log SET archived = TRUE WHERE tenant_id = $1 AND `+in+` AND NOT archived`,
			append([]any{tenantID}, args...)...)
		if err != nil {
			return err
		}
		marked, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("flag %d audit rows of tenant %s archived: %w", len(ids), tenantID, err)
	}
	return int(marked), nil
}

// EventIDColumn is the SQL expression of the event id of table's rows (auditrow.EventID), to compare with the
// event store's.
func EventIDColumn(table string) string {
	return `CASE WHEN ` + table + `.event_text_id = '' THEN CAST(` + table + `.event_id AS TEXT) ELSE ` + table + `.event_text_id END`
}
