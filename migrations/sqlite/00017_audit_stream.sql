-- +goose Up
-- The event export and feed (GET /api/{tenantId}/events, passpush events export) read the audit log, which
-- outlives archived events: each line names the event's stream, so the log keeps it too. Rows written before
-- this migration take it from the event store, which still holds every event then.
ALTER TABLE audit_log ADD COLUMN stream_id TEXT NOT NULL DEFAULT '';
UPDATE audit_log SET stream_id = COALESCE((SELECT e.stream_id FROM events e WHERE e.event_id = audit_log.event_id), '');

-- +goose Down
ALTER TABLE audit_log DROP COLUMN stream_id;
