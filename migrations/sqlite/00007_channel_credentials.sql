-- +goose Up
-- A channel's credentials, kept apart from the tenant row and keyed by (tenant, kind, name): the tenant's webhook
-- (kind 'webhook', name 'default'), later an APNs certificate per Pass Type ID. data is the credential's JSON,
-- read and written in one place per kind (adapters/credentials). revision changes on every write, so the instances
-- that cache a client built from a credential see that it changed (adapters/credentials/clients.go).
CREATE TABLE channel_credentials (
    tenant_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    data       TEXT NOT NULL,
    revision   BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, kind, name)
);

-- The webhooks move out of the tenants table.
INSERT INTO channel_credentials (tenant_id, kind, name, data, revision, updated_at)
SELECT tenant_id, 'webhook', 'default', json_object('url', webhook_url, 'secret', webhook_secret), 1, updated_at
FROM tenants
WHERE webhook_url <> '';

ALTER TABLE tenants DROP COLUMN webhook_url;
ALTER TABLE tenants DROP COLUMN webhook_secret;

-- +goose Down
ALTER TABLE tenants ADD COLUMN webhook_url TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN webhook_secret TEXT NOT NULL DEFAULT '';

UPDATE tenants SET
    webhook_url = COALESCE((SELECT json_extract(c.data, '$.url') FROM channel_credentials c
        WHERE c.tenant_id = tenants.tenant_id AND c.kind = 'webhook' AND c.name = 'default'), ''),
    webhook_secret = COALESCE((SELECT json_extract(c.data, '$.secret') FROM channel_credentials c
        WHERE c.tenant_id = tenants.tenant_id AND c.kind = 'webhook' AND c.name = 'default'), '');

DROP TABLE channel_credentials;
