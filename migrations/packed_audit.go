package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/passpush/passpush/adapters/audit/auditrow"
)

// packedAudit is migration 00025: the audit log's rows store an event's type as a one-byte code
// (auditrow.StoredType) and their pass's deliveries' stream as a one-byte mark instead of "pushes-"
// (auditrow.StoredStream), and on PostgreSQL the table is written again with its columns in the order that leaves
// no padding between them, and its indexes packed full.
//
// PostgreSQL aligns a column of 8 bytes (the position, the time) on 8 bytes: after the id, the tenant and the
// type, of any length, the time took up to 7 bytes of padding. The fixed-width columns come first now, then the
// payload (a payload of over 126 bytes has a 4-byte length, aligned on 4, which the uuid's end is), then the short
// texts, which are not aligned. A column's place can only be chosen by creating the table, hence the copy.
//
// The indexes are filled to 100 % instead of B-tree's 90 %: rows are never updated, the tenant's index and the
// primary key (event ids are time-ordered UUIDs) take their keys in ascending order, and a page that splits at
// the index's right end is left as full as the fill factor says. A rebuild (adapters/rebuild) keeps the setting.
//
// The down migration gives the types their names back, and the streams the prefix; the column order and the fill factors do not matter to the
// version before.
type packedAudit struct {
	postgres bool
}

// packedAuditTable is the audit log with its columns in the order 00025 gives them.
const packedAuditTable = `(
	position       BIGINT NOT NULL,
	occurred_at    TIMESTAMPTZ NOT NULL,
	event_id       UUID NOT NULL,
	data           BYTEA NOT NULL,
	tenant_id      TEXT NOT NULL,
	event_type     TEXT NOT NULL,
	journey_id     TEXT NOT NULL DEFAULT '',
	pass_id        TEXT NOT NULL DEFAULT '',
	correlation_id TEXT NOT NULL DEFAULT '',
	stream_id      TEXT NOT NULL DEFAULT '',
	event_text_id  TEXT NOT NULL DEFAULT ''
)`

func (m packedAudit) up(ctx context.Context, tx *sql.Tx) error {
	coded, args := typeCase("event_type", auditrow.TypeCodes())
	args = append(args, auditrow.PushPrefix, auditrow.PushMark)
	marked := fmt.Sprintf(`CASE WHEN pass_id <> '' AND stream_id = CAST($%d AS TEXT) THEN CAST($%d AS TEXT) ELSE stream_id END`, len(args)-1, len(args))
	if !m.postgres {
		// SQLite pads nothing: only the types and the streams change.
		if _, err := tx.ExecContext(ctx, `UPDATE audit_log SET event_type = `+coded+`, stream_id = `+marked, args...); err != nil {
			return fmt.Errorf("code the audit log's types: %w", err)
		}
		return nil
	}
	if err := exec(ctx, tx, `CREATE TABLE audit_log_packed `+packedAuditTable); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log_packed
		SELECT position, occurred_at, event_id, data, tenant_id, `+coded+`, journey_id, pass_id, correlation_id, `+marked+`, event_text_id
		FROM audit_log ORDER BY position`, args...); err != nil {
		return fmt.Errorf("copy the audit log: %w", err)
	}
	// The sequence goes over to the new table before the old one, which owns it, is dropped. Its name is read,
	// not assumed: it is audit_log_position_seq, unless a rebuild has renamed things otherwise.
	var sequence string
	if err := tx.QueryRowContext(ctx, `SELECT pg_get_serial_sequence('audit_log', 'position')`).Scan(&sequence); err != nil {
		return fmt.Errorf("read the audit log's sequence: %w", err)
	}
	return exec(ctx, tx,
		`ALTER SEQUENCE `+sequence+` OWNED BY audit_log_packed.position`,
		`ALTER TABLE audit_log_packed ALTER COLUMN position SET DEFAULT nextval('`+sequence+`')`,
		`DROP TABLE audit_log`,
		`ALTER TABLE audit_log_packed RENAME TO audit_log`,
		`ALTER TABLE audit_log ADD CONSTRAINT audit_log_pkey PRIMARY KEY (event_id) WITH (fillfactor = 100)`,
		`CREATE INDEX audit_log_tenant ON audit_log (tenant_id, position) WITH (fillfactor = 100)`,
		`CREATE INDEX audit_log_journey ON audit_log (tenant_id, journey_id) WITH (fillfactor = 100) WHERE journey_id <> ''`,
		`CREATE INDEX audit_log_pass ON audit_log (tenant_id, pass_id) WITH (fillfactor = 100) WHERE pass_id <> ''`)
}

func (m packedAudit) down(ctx context.Context, tx *sql.Tx) error {
	names := map[string]string{}
	for name, code := range auditrow.TypeCodes() {
		names[code] = name
	}
	named, args := typeCase("event_type", names)
	args = append(args, auditrow.PushMark, auditrow.PushPrefix)
	if _, err := tx.ExecContext(ctx, `UPDATE audit_log SET event_type = `+named+`, stream_id = CASE WHEN pass_id <> '' AND stream_id = CAST($`+
		fmt.Sprint(len(args)-1)+` AS TEXT) THEN CAST($`+fmt.Sprint(len(args))+` AS TEXT) ELSE stream_id END
		WHERE length(event_type) = 1 OR length(stream_id) = 1`, args...); err != nil {
		return fmt.Errorf("name the audit log's types and streams: %w", err)
	}
	if !m.postgres {
		return nil
	}
	return exec(ctx, tx,
		`ALTER INDEX audit_log_pkey RESET (fillfactor)`,
		`ALTER INDEX audit_log_tenant RESET (fillfactor)`,
		`ALTER INDEX audit_log_journey RESET (fillfactor)`,
		`ALTER INDEX audit_log_pass RESET (fillfactor)`)
}

// typeCase is SQL that maps column's values by mapping, leaving any other as it is, and its arguments.
func typeCase(column string, mapping map[string]string) (string, []any) {
	from := make([]string, 0, len(mapping))
	for k := range mapping {
		from = append(from, k)
	}
	sort.Strings(from)
	var b strings.Builder
	args := make([]any, 0, 2*len(from))
	b.WriteString("CASE " + column)
	for _, k := range from {
		args = append(args, k, mapping[k])
		fmt.Fprintf(&b, " WHEN CAST($%d AS TEXT) THEN CAST($%d AS TEXT)", len(args)-1, len(args))
	}
	b.WriteString(" ELSE " + column + " END")
	return b.String(), args
}
