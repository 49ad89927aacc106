-- +goose Up
-- PostgreSQL's 00020 tunes autovacuum for the tables that turn over; SQLite reuses the pages of deleted rows by
-- itself. The version is kept so the two folders stay in step.
SELECT 1;

-- +goose Down
SELECT 1;
