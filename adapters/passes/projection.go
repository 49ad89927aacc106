package passes

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/passpush/passpush/adapters/eventstore"
	"github.com/passpush/passpush/adapters/sqldb"
	"github.com/passpush/passpush/domain/pass"
)

// Projection applies pass events to the passes read model.
type Projection struct {
	db *sqldb.DB
	// table is the table written: passes, or a rebuild's new table (Into).
	table                                    string
	upsertHead, registrationTail, updateTail string
}

// NewProjection returns the passes projection of db.
func NewProjection(db *sqldb.DB) (*Projection, error) {
	if db == nil {
		return nil, errors.New("new passes projection: nil db")
	}
	return newProjection(db, "passes"), nil
}

func newProjection(db *sqldb.DB, table string) *Projection {
	named := func(statement string) string { return strings.ReplaceAll(statement, "{passes}", table) }
	return &Projection{db: db, table: table, upsertHead: named(upsertHead), registrationTail: named(registrationTail),
		updateTail: named(updateTail)}
}

// Into returns the projection writing to table, a table shaped like passes: an online rebuild fills a new table
// with the very code that keeps passes, so the two cannot differ.
func (p *Projection) Into(table string) *Projection { return newProjection(p.db, table) }

// Handle applies the events of one append, in order. It runs in the subscriber's transaction, so the rows and the
// consumer's offset commit together. It skips an event a row already has (stream_version), so a rebuild running
// beside the live projection, or a redelivery, changes nothing twice.
//
// The events are written with multi-row upserts, for registrations and for journey updates: an import of a
// thousand passes, or a batch of journey updates, is a statement or two. A statement may not change a row twice,
// so the events are written in rounds: a pass's first event in the batch in the first round, its second in the
// second, and so on. The events of one pass keep their order; those of different passes touch different rows. A
// rebuild's page of thousands of events, a few per pass, is a few rounds instead of a statement per event.
func (p *Projection) Handle(ctx context.Context, events []eventstore.Event) error {
	type round struct{ registrations, updates [][]any }
	var rounds []round
	seen := make(map[string]int)
	for i := range events {
		e := &events[i]
		if !strings.HasPrefix(e.StreamID, StreamPrefix) {
			continue
		}
		decoded, _, err := e.Decode()
		if err != nil {
			return fmt.Errorf("project: %w", err)
		}
		var row []any
		registration := false
		switch ev := decoded.(type) {
		case pass.Registered:
			row, registration = upsertRow(e, ev.Details, ev.Revision, ""), true
		case pass.DataChanged:
			row, registration = upsertRow(e, ev.Details, ev.Revision, ""), true
		case pass.UpdateScheduled:
			// The row exists: the pass's registration comes before its updates in the global order. The
			// upsert only writes what the update changes.
			row = upsertRow(e, pass.Details{PassType: ev.PassType, Data: ev.Data}, ev.Revision, ev.Message)
		default:
			continue
		}
		passKey := e.TenantID + "\x00" + e.StreamID
		n := seen[passKey]
		seen[passKey] = n + 1
		if n == len(rounds) {
			rounds = append(rounds, round{})
		}
		if registration {
			rounds[n].registrations = append(rounds[n].registrations, row)
		} else {
			rounds[n].updates = append(rounds[n].updates, row)
		}
	}
	if len(rounds) == 0 {
		return nil
	}
	return sqldb.InTx(ctx, p.db, func(ctx context.Context, tx *sql.Tx) error {
		for _, r := range rounds {
			if err := p.db.Dialect.InsertRows(ctx, tx, p.upsertHead, p.registrationTail, upsertColumnTypes, r.registrations); err != nil {
				return fmt.Errorf("project %d pass registrations: %w", len(r.registrations), err)
			}
			if err := p.db.Dialect.InsertRows(ctx, tx, p.upsertHead, p.updateTail, upsertColumnTypes, r.updates); err != nil {
				return fmt.Errorf("project %d pass updates: %w", len(r.updates), err)
			}
		}
		return nil
	})
}

const (
	upsertHead = `INSERT INTO {passes} (tenant_id, pass_id, pass_type, email, email_lower, custom_id, data, version, stream_version, updated_at,
			last_updated_tx, last_updated_seq, last_modified, message)`
	// Every change of a pass's data moves its lastUpdated tag (the event's position) and its Last-Modified, with
	// the change, so a device that asks right after the push sees the new serial and the new pass. Last-Modified
	// moves at least one second per change, so two changes within one second are not the same to
	// If-Modified-Since.
	lastUpdated = `
			last_updated_tx = excluded.last_updated_tx,
			last_updated_seq = excluded.last_updated_seq,
			last_modified = CASE WHEN excluded.last_modified > {passes}.last_modified THEN excluded.last_modified ELSE {passes}.last_modified + 1 END,`
	registrationTail = `ON CONFLICT (tenant_id, pass_id) DO UPDATE SET` + lastUpdated + `
			pass_type = excluded.pass_type,
			email = excluded.email,
			email_lower = excluded.email_lower,
			custom_id = excluded.custom_id,
			data = excluded.data,
			version = excluded.version,
			stream_version = excluded.stream_version,
			updated_at = excluded.updated_at
		WHERE {passes}.stream_version < excluded.stream_version`
	// A registration keeps the message of the latest journey update; an update replaces it, with an empty one too.
	updateTail = `ON CONFLICT (tenant_id, pass_id) DO UPDATE SET` + lastUpdated + `
			message = excluded.message,
			data = excluded.data,
			version = excluded.version,
			stream_version = excluded.stream_version,
			updated_at = excluded.updated_at
		WHERE {passes}.stream_version < excluded.stream_version`
)

// upsertColumnTypes are the types of upsertRow's values, for a statement whose text does not change with the
// number of rows (sqldb.RowSource): a rebuild writes thousands of rows a statement, and each row's fourteen
// parameters, bound one by one, cost more than the rows' upsert.
var upsertColumnTypes = []string{sqldb.TypeText, sqldb.TypeText, sqldb.TypeText, sqldb.TypeText, sqldb.TypeText, sqldb.TypeText,
	sqldb.TypeText, sqldb.TypeBigint, sqldb.TypeBigint, sqldb.TypeTimestamptz, sqldb.TypeBigint, sqldb.TypeBigint, sqldb.TypeBigint,
	sqldb.TypeText}

func upsertRow(e *eventstore.Event, d pass.Details, revision int, message string) []any {
	return []any{e.TenantID, strings.TrimPrefix(e.StreamID, StreamPrefix), d.PassType, d.Email, strings.ToLower(d.Email), d.CustomID,
		encodeData(d.Data), revision, e.Version, e.OccurredAt.UTC(), e.Position.TransactionID, e.Position.Sequence, ceilUnix(e.OccurredAt),
		message}
}

// ceilUnix is t in Unix seconds, rounded up: a Last-Modified header has whole seconds, and one rounded down would
// be older than the change it stands for.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

func encodeData(data map[string]string) string {
	if data == nil {
		return "{}"
	}
	// A map of strings always encodes.
	b, _ := json.Marshal(data)
	return string(b)
}

// ArchivedPass is a condition on table, whose rows have tenant_id and pass_id columns: the row's pass has a
// snapshot and its stream no longer starts at its first event, which passpush events archive moved out of the
// store.
func ArchivedPass(table string) string {
	stream := `'` + StreamPrefix + `' || ` + table + `.pass_id`
	return `(EXISTS (SELECT 1 FROM stream_snapshots s
		WHERE s.tenant_id = ` + table + `.tenant_id AND s.stream_id = ` + stream + ` AND s.state <> '')
	AND NOT EXISTS (SELECT 1 FROM events e
		WHERE e.tenant_id = ` + table + `.tenant_id AND e.stream_id = ` + stream + ` AND e.stream_version = 1))`
}
