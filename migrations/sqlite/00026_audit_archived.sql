-- +goose Up
-- PostgreSQL's 00026 narrows the audit log's event id index to the rows whose events are still in the store, the
-- only ones the projection can be handed again, and passpush events archive marks the others. SQLite records
-- the same flag, so both back ends run the same statements, but keeps event_id's UNIQUE: it is a column
-- constraint, which only a copy of the whole table could drop, and SQLite's size is not what this saves.
ALTER TABLE audit_log ADD COLUMN archived BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE audit_log SET archived = TRUE
WHERE NOT EXISTS (SELECT 1 FROM events e
                  WHERE e.event_id = CASE WHEN audit_log.event_text_id = '' THEN CAST(audit_log.event_id AS TEXT) ELSE audit_log.event_text_id END);

-- +goose Down
ALTER TABLE audit_log DROP COLUMN archived;
