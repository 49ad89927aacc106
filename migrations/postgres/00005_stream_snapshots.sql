-- +goose Up
-- The state of an event stream at a version, written in the transaction that appends to it, so a pass that
-- journeys have updated many times loads from one row instead of its whole history. A stream without a row has
-- no events; a row with an empty state is replayed from the events (adapters/passes/repository.go).
CREATE TABLE stream_snapshots (
    tenant_id TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    version   BIGINT NOT NULL,
    state     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, stream_id)
);

-- The passes' streams stored before snapshots existed are marked for replay.
INSERT INTO stream_snapshots (tenant_id, stream_id, version, state)
SELECT tenant_id, stream_id, MAX(stream_version), ''
FROM events
WHERE stream_id LIKE 'pass-%' OR stream_id LIKE 'pushes-%'
GROUP BY tenant_id, stream_id;

-- +goose Down
DROP TABLE stream_snapshots;
