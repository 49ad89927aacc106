-- +goose Up
-- Deliveries waiting to reach a pass's channels: the concurrent delivery stage's work queue. A row is written in
-- the same transaction as the consumer offset of the event that scheduled it, and deleted in the same
-- transaction as the event that records its outcome. Times are Unix milliseconds, the same in both dialects.
CREATE TABLE deliveries (
    event_id        TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    pass_id         TEXT NOT NULL,
    stream_version  INTEGER NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    results         TEXT NOT NULL DEFAULT '[]',
    last_error      TEXT NOT NULL DEFAULT '',
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at);
CREATE INDEX deliveries_pass ON deliveries (tenant_id, pass_id, stream_version);

-- The audit log projection: every event of a tenant, in the order the projection saw them.
CREATE TABLE audit_log (
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT NOT NULL UNIQUE,
    tenant_id      TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    occurred_at    TIMESTAMP NOT NULL,
    journey_id     TEXT NOT NULL DEFAULT '',
    pass_id        TEXT NOT NULL DEFAULT '',
    correlation_id TEXT NOT NULL DEFAULT '',
    data           TEXT NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, position);
CREATE INDEX audit_log_journey ON audit_log (tenant_id, journey_id, position) WHERE journey_id <> '';
CREATE INDEX audit_log_pass ON audit_log (tenant_id, pass_id, position) WHERE pass_id <> '';

-- +goose Down
DROP TABLE audit_log;
DROP TABLE deliveries;
