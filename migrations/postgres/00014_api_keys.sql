-- +goose Up
-- A tenant's API keys. Only the key's SHA-256 (hex) is kept: a stolen row cannot be used as a key. The unique
-- hash is how a request's key is looked up; (tenant_id, name) is how an operator names one to revoke it. prefix is
-- the first characters of the key's random part, shown in listings so an operator can tell keys apart. A revoked
-- key's row is deleted: its creation and revocation stay in the tenant's event stream.
CREATE TABLE api_keys (
    tenant_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- +goose Down
DROP TABLE api_keys;
