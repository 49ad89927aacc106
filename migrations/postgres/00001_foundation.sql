-- +goose Up
CREATE TABLE tenants (
    tenant_id            TEXT PRIMARY KEY,
    name                 TEXT NOT NULL DEFAULT '',
    sfmc_signing_secrets TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
    webhook_url          TEXT NOT NULL DEFAULT '',
    webhook_secret       TEXT NOT NULL DEFAULT '',
    disabled             BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);

-- The event store. transaction_id + position is the global order: a reader only takes rows whose
-- transaction is older than every running one, the cut-off watermill-sql uses, so a late commit is never skipped.
CREATE TABLE events (
    position       BIGSERIAL NOT NULL,
    transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event_id       TEXT NOT NULL UNIQUE,
    tenant_id      TEXT NOT NULL,
    stream_id      TEXT NOT NULL,
    stream_version INTEGER NOT NULL,
    event_type     TEXT NOT NULL,
    occurred_at    TIMESTAMPTZ NOT NULL,
    correlation_id TEXT NOT NULL DEFAULT '',
    payload        TEXT NOT NULL,
    PRIMARY KEY (transaction_id, position),
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
    updated_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, pass_id)
);
CREATE INDEX passes_email ON passes (tenant_id, email_lower) WHERE email_lower <> '';
CREATE INDEX passes_custom_id ON passes (tenant_id, custom_id) WHERE custom_id <> '';

-- Watermill topics, laid out as watermill-sql's DefaultPostgreSQLSchema and DefaultPostgreSQLOffsetsAdapter create them.
CREATE TABLE watermill_commands (
    "offset"       BIGSERIAL,
    uuid           VARCHAR(36) NOT NULL,
    created_at     TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    payload        JSON DEFAULT NULL,
    metadata       JSON DEFAULT NULL,
    transaction_id xid8 NOT NULL,
    PRIMARY KEY (transaction_id, "offset")
);
CREATE TABLE watermill_offsets_commands (
    consumer_group                VARCHAR(255) NOT NULL PRIMARY KEY,
    offset_acked                  BIGINT,
    last_processed_transaction_id xid8 NOT NULL
);
CREATE TABLE watermill_events (
    "offset"       BIGSERIAL,
    uuid           VARCHAR(36) NOT NULL,
    created_at     TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    payload        JSON DEFAULT NULL,
    metadata       JSON DEFAULT NULL,
    transaction_id xid8 NOT NULL,
    PRIMARY KEY (transaction_id, "offset")
);
CREATE TABLE watermill_offsets_events (
    consumer_group                VARCHAR(255) NOT NULL PRIMARY KEY,
    offset_acked                  BIGINT,
    last_processed_transaction_id xid8 NOT NULL
);
CREATE TABLE watermill_poison (
    "offset"       BIGSERIAL,
    uuid           VARCHAR(36) NOT NULL,
    created_at     TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    payload        JSON DEFAULT NULL,
    metadata       JSON DEFAULT NULL,
    transaction_id xid8 NOT NULL,
    PRIMARY KEY (transaction_id, "offset")
);
CREATE TABLE watermill_offsets_poison (
    consumer_group                VARCHAR(255) NOT NULL PRIMARY KEY,
    offset_acked                  BIGINT,
    last_processed_transaction_id xid8 NOT NULL
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
