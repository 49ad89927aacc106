-- +goose Up
-- SQLite's migration 00019 indexes the events in global order, (transaction_id, position). Here that index is
-- the events table's primary key already; this migration keeps the two back ends' versions in step.
SELECT 1;

-- +goose Down
SELECT 1;
