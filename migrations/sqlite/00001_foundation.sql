-- +goose Up
CREATE TABLE tenants (
    tenant_id            TEXT PRIMARY KEY,
    name                 TEXT NOT NULL DEFAULT '',
    sfmc_signing_secrets TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
    webhook_url          TEXT NOT NULL DEFAULT '',
    webhook_secret       TEXT NOT NULL DEFAULT '',
    disabled             BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL
);

-- The event store. SQLite has a single writer, so position alone is the global order;
-- transaction_id stays 0 and exists so the queries match PostgreSQL's.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id INTEGER NOT NULL DEFAULT 0,
    event_id       TEXT NOT NULL UNIQUE,
    tenant_id      TEXT NOT NULL,
    stream_id      TEXT NOT NULL,
    stream_version INTEGER NOT NULL,
    event_type     TEXT NOT NULL,
    occurred_at    TIMESTAMP NOT NULL,
    correlation_id TEXT NOT NULL DEFAULT '',
    payload        TEXT NOT NULL,
    UNIQUE (tenant_id, stream_id, stream_version)
);

-- The passes read model, written only by the passes projection.
CREATE TABLE passes (
    tenant_id      TEXT NOT NULL,
    pass_id        TEXT NOT NULL,
    pass_type      TEXT NOT NULL DEFAULT '',
    email          TEXT NOT NULL DEFAULT '',
    email_lower    TEXT NOT NULL DEFAULT '',
    custom_id      TEXT NOT NULL DEFAULT '',
    data           TEXT NOT NULL DEFAULT '{}',
    version        INTEGER NOT NULL,
    stream_version INTEGER NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, pass_id)
);
CREATE INDEX passes_email ON passes (tenant_id, email_lower) WHERE email_lower <> '';
CREATE INDEX passes_custom_id ON passes (tenant_id, custom_id) WHERE custom_id <> '';

-- Watermill topics, laid out as adapters/watermillsqlite creates them.
CREATE TABLE "watermill_commands" (
    "offset"   INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid       TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    payload    BLOB,
    metadata   TEXT
);
CREATE TABLE "watermill_offsets_commands" (
    consumer_group TEXT PRIMARY KEY,
    offset_acked   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE "watermill_events" (
    "offset"   INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid       TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    payload    BLOB,
    metadata   TEXT
);
CREATE TABLE "watermill_offsets_events" (
    consumer_group TEXT PRIMARY KEY,
    offset_acked   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE "watermill_poison" (
    "offset"   INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid       TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    payload    BLOB,
    metadata   TEXT
);
CREATE TABLE "watermill_offsets_poison" (
    consumer_group TEXT PRIMARY KEY,
    offset_acked   INTEGER NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE watermill_offsets_poison;
DROP TABLE watermill_poison;
DROP TABLE watermill_offsets_events;
DROP TABLE watermill_events;
DROP TABLE watermill_offsets_commands;
DROP TABLE watermill_commands;
DROP TABLE passes;
DROP TABLE events;
DROP TABLE tenants;
