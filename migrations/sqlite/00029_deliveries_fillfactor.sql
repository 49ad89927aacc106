-- +goose Up
-- PostgreSQL's 00029 leaves room on the delivery queue's pages for the leases' updates; SQLite rewrites a row in
-- place. The version is kept so the two folders stay in step.
SELECT 1;

-- +goose Down
SELECT 1;
