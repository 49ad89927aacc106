-- +goose Up
-- A pass's authenticationToken, made once on first use and never changed. It is not a read model: a projection
-- rebuild leaves it alone, so the passes on phones keep working.
CREATE TABLE apple_pass_tokens (
    tenant_id  TEXT NOT NULL,
    pass_id    TEXT NOT NULL,
    token      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, pass_id)
);

-- The devices registered for a pass's updates, projected from DeviceRegistered and DeviceUnregistered. An
-- unregistered device keeps its row with active false, so an event handled again (stream_version) never brings it
-- back.
CREATE TABLE apple_registrations (
    tenant_id         TEXT NOT NULL,
    pass_id           TEXT NOT NULL,
    device_library_id TEXT NOT NULL,
    pass_type_id      TEXT NOT NULL,
    push_token        TEXT NOT NULL,
    active            BOOLEAN NOT NULL,
    stream_version    BIGINT NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, pass_id, device_library_id)
);
CREATE INDEX apple_registrations_device ON apple_registrations (tenant_id, device_library_id, pass_type_id);

-- The passes' lastUpdated tag: the global position of the event that last changed the pass's data, which the
-- projection writes with the change. last_modified is the Last-Modified of its .pkpass in Unix seconds: it moves
-- at least one second per change, so two changes within a second never look the same to If-Modified-Since.
ALTER TABLE passes ADD COLUMN last_updated_tx BIGINT NOT NULL DEFAULT 0;
ALTER TABLE passes ADD COLUMN last_updated_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE passes ADD COLUMN last_modified BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE passes DROP COLUMN last_modified;
ALTER TABLE passes DROP COLUMN last_updated_seq;
ALTER TABLE passes DROP COLUMN last_updated_tx;
DROP TABLE apple_registrations;
DROP TABLE apple_pass_tokens;
