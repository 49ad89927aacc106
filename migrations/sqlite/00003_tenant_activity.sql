-- +goose Up
-- How each tenant's Journey Builder activity is declared in its config.json.
ALTER TABLE tenants ADD COLUMN activity_key TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN activity_timeout_ms INTEGER NOT NULL DEFAULT 20000;
ALTER TABLE tenants ADD COLUMN activity_retry_count INTEGER NOT NULL DEFAULT 3;
ALTER TABLE tenants ADD COLUMN activity_retry_delay_ms INTEGER NOT NULL DEFAULT 1000;
ALTER TABLE tenants ADD COLUMN activity_concurrent_requests INTEGER NOT NULL DEFAULT 5;

-- +goose Down
ALTER TABLE tenants DROP COLUMN activity_concurrent_requests;
ALTER TABLE tenants DROP COLUMN activity_retry_delay_ms;
ALTER TABLE tenants DROP COLUMN activity_retry_count;
ALTER TABLE tenants DROP COLUMN activity_timeout_ms;
ALTER TABLE tenants DROP COLUMN activity_key;
