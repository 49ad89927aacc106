-- +goose Up
-- The audit log keeps every row for good, but only a row whose event is still in the store can be handed to the
-- projection again: an archived event has been handled by every consumer group (eventstore.ArchivablePage), and a
-- rebuild reads the store, which no longer has it. So the event id's unique index, which dedupes the projection,
-- covers only the rows whose events are in the store, and passpush events archive marks a row archived in the
-- transaction that deletes its event: once archived, a row costs no index but the tenant's, its journey's and its
-- pass's (about 67 bytes a journey update less). The flag takes one byte at the row's end.
ALTER TABLE audit_log ADD COLUMN archived BOOLEAN NOT NULL DEFAULT false;
UPDATE audit_log SET archived = true
WHERE NOT EXISTS (SELECT 1 FROM events e
                  WHERE e.event_id = CASE WHEN audit_log.event_text_id = '' THEN CAST(audit_log.event_id AS TEXT) ELSE audit_log.event_text_id END);
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey;
-- Filled to 100 %, as 00025 left the primary key: rows are never updated but once, when archived, which takes
-- them out of this index.
CREATE UNIQUE INDEX audit_log_event ON audit_log (event_id) WITH (fillfactor = 100) WHERE NOT archived;

-- +goose Down
-- No two rows share an event id: a row left the index only once its event could no longer be handed over again.
DROP INDEX audit_log_event;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_pkey PRIMARY KEY (event_id) WITH (fillfactor = 100);
ALTER TABLE audit_log DROP COLUMN archived;
