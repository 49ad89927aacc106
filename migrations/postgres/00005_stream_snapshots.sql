-- +goose Up
-- The state of an event stream at a version, written in the transaction that appends to it, so a pass that
-- journeys have updated many times loads from one row instead of its whole history. Only a cache: deleting a row
-- makes the next load replay the stream.
CREATE TABLE stream_snapshots (
    tenant_id TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    version   BIGINT NOT NULL,
    state     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, stream_id)
);

-- +goose Down
DROP TABLE stream_snapshots;
