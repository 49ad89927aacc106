-- +goose Up
-- Readers of the whole store (projection rebuilds, the event export) page through it in global order,
-- (transaction_id, position). Without an index on it each page scanned and sorted every event, so a rebuild took
-- time in the square of the store's size. PostgreSQL has it already: it is the events table's primary key.
CREATE INDEX events_global_order ON events (transaction_id, position);

-- +goose Down
DROP INDEX events_global_order;
