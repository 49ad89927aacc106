package migrations

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/passpush/passpush/adapters/audit/auditrow"
	"github.com/passpush/passpush/adapters/storedpayload"
	"github.com/pressly/goose/v3"
)

// Go is the migrations written in Go for a dialect ("postgres" or "sqlite"), which goose runs in version order
// with the SQL files of the dialect's folder. A migration is written in Go when SQL cannot do its work: SQL
// cannot inflate a payload, nor, on SQLite, take an MD5; or when its data is Go's (the audit log's type codes).
func Go(dialect string) []*goose.Migration {
	m := compactStore{postgres: dialect == "postgres"}
	p := packedAudit{postgres: dialect == "postgres"}
	return []*goose.Migration{
		goose.NewGoMigration(22, &goose.GoFunc{RunTx: m.up}, &goose.GoFunc{RunTx: m.down}),
		goose.NewGoMigration(25, &goose.GoFunc{RunTx: p.up}, &goose.GoFunc{RunTx: p.down}),
	}
}

// compactStore is migration 00022: the event store's payloads are stored deflated, as the audit log's are
// (adapters/storedpayload), and the audit log's event ids as uuids and its pass streams without the pass id
// (adapters/audit/auditrow).
//
// The event store gets a packed_payload column beside payload, which the appends write from now on (payload then
// empty): adding a column with a constant default rewrites nothing, where changing payload's type would rewrite
// the whole store under a lock that stops every append. Rows written before keep their JSON in payload.
//
// The down migration inflates every packed payload back into payload, in Go, so that the version before reads the
// store as it wrote it.
type compactStore struct {
	postgres bool
}

// canonicalUUID matches what auditrow.EventKey keys by itself.
const canonicalUUID = `'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'`

func (m compactStore) up(ctx context.Context, tx *sql.Tx) error {
	if m.postgres {
		return exec(ctx, tx,
			`ALTER TABLE events ADD COLUMN packed_payload BYTEA NOT NULL DEFAULT ''::bytea`,
			`ALTER TABLE audit_log ADD COLUMN event_text_id TEXT NOT NULL DEFAULT ''`,
			// One rewrite of the log; every USING reads the row as it was.
			`ALTER TABLE audit_log
				ALTER COLUMN event_text_id TYPE TEXT USING CASE WHEN event_id ~ `+canonicalUUID+` THEN '' ELSE event_id END,
				ALTER COLUMN event_id TYPE UUID USING CASE WHEN event_id ~ `+canonicalUUID+` THEN event_id::uuid ELSE md5(event_id)::uuid END,
				ALTER COLUMN stream_id TYPE TEXT USING CASE
					WHEN pass_id = '' THEN stream_id
					WHEN stream_id = 'pass-' || pass_id THEN ''
					WHEN stream_id = 'pushes-' || pass_id THEN 'pushes-'
					ELSE stream_id END`)
	}
	if err := exec(ctx, tx,
		`ALTER TABLE events ADD COLUMN packed_payload BLOB NOT NULL DEFAULT x''`,
		`ALTER TABLE audit_log ADD COLUMN event_text_id TEXT NOT NULL DEFAULT ''`); err != nil {
		return err
	}
	return rewriteAuditRows(ctx, tx, func(r *auditRow) {
		r.eventID, r.textID = auditrow.EventKey(r.eventID)
		r.stream = auditrow.StoredStream(r.stream, r.passID)
	})
}

func (m compactStore) down(ctx context.Context, tx *sql.Tx) error {
	if err := unpackEvents(ctx, tx); err != nil {
		return err
	}
	if m.postgres {
		return exec(ctx, tx,
			`ALTER TABLE audit_log
				ALTER COLUMN event_id TYPE TEXT USING CASE WHEN event_text_id = '' THEN event_id::text ELSE event_text_id END,
				ALTER COLUMN stream_id TYPE TEXT USING CASE
					WHEN pass_id = '' THEN stream_id
					WHEN stream_id = '' THEN 'pass-' || pass_id
					WHEN stream_id = 'pushes-' THEN 'pushes-' || pass_id
					ELSE stream_id END`,
			`ALTER TABLE audit_log DROP COLUMN event_text_id`,
			`ALTER TABLE events DROP COLUMN packed_payload`)
	}
	err := rewriteAuditRows(ctx, tx, func(r *auditRow) {
		r.eventID, r.textID = auditrow.EventID(r.eventID, r.textID), ""
		r.stream = auditrow.StreamOf(r.stream, r.passID)
	})
	if err != nil {
		return err
	}
	return exec(ctx, tx, `ALTER TABLE audit_log DROP COLUMN event_text_id`, `ALTER TABLE events DROP COLUMN packed_payload`)
}

// unpackEvents writes every packed payload back into payload, a page at a time.
func unpackEvents(ctx context.Context, tx *sql.Tx) error {
	for {
		type packed struct {
			id      string
			payload []byte
		}
		var page []packed
		rows, err := tx.QueryContext(ctx, `SELECT event_id, packed_payload FROM events WHERE length(packed_payload) > 0 LIMIT 1000`)
		if err != nil {
			return fmt.Errorf("read packed payloads: %w", err)
		}
		for rows.Next() {
			var p packed
			if err := rows.Scan(&p.id, &p.payload); err != nil {
				rows.Close()
				return fmt.Errorf("read packed payloads: %w", err)
			}
			page = append(page, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read packed payloads: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		for _, p := range page {
			payload, err := storedpayload.Decode(p.payload)
			if err != nil {
				return fmt.Errorf("event %s: %w", p.id, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE events SET payload = $1, packed_payload = $2 WHERE event_id = $3`,
				string(payload), []byte{}, p.id); err != nil {
				return fmt.Errorf("unpack event %s: %w", p.id, err)
			}
		}
	}
}

// auditRow is what SQLite's migration rewrites of an audit log row.
type auditRow struct {
	position                        int64
	eventID, textID, passID, stream string
}

// rewriteAuditRows applies change to every row of SQLite's audit log, a page at a time, and writes the rows it
// changed.
func rewriteAuditRows(ctx context.Context, tx *sql.Tx, change func(*auditRow)) error {
	var after int64
	for {
		var page []auditRow
		rows, err := tx.QueryContext(ctx, `SELECT position, event_id, event_text_id, pass_id, stream_id FROM audit_log
			WHERE position > $1 ORDER BY position LIMIT 1000`, after)
		if err != nil {
			return fmt.Errorf("read the audit log: %w", err)
		}
		for rows.Next() {
			var r auditRow
			if err := rows.Scan(&r.position, &r.eventID, &r.textID, &r.passID, &r.stream); err != nil {
				rows.Close()
				return fmt.Errorf("read the audit log: %w", err)
			}
			page = append(page, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read the audit log: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		for _, r := range page {
			was := r
			change(&r)
			if r == was {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE audit_log SET event_id = $1, event_text_id = $2, stream_id = $3 WHERE position = $4`,
				r.eventID, r.textID, r.stream, r.position); err != nil {
				return fmt.Errorf("rewrite audit row %d: %w", r.position, err)
			}
		}
		after = page[len(page)-1].position
	}
}

func exec(ctx context.Context, tx *sql.Tx, statements ...string) error {
	for _, q := range statements {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}
