-- +goose Up
-- The "Wallet pass?" split activity (issue 15): its own config.json key, beside the push update's activity_key.
ALTER TABLE tenants ADD COLUMN activity_split_key TEXT NOT NULL DEFAULT '';

-- Whether a pass's Google Wallet object is saved by someone (the object exists and hasUsers is true), as the
-- Google channel's last answer about it said: written on every patch and on the split's refreshing GET, read by
-- the split. checked_at says how old the answer is; the split refreshes one older than an hour.
CREATE TABLE google_install_states (
    tenant_id  TEXT NOT NULL,
    pass_id    TEXT NOT NULL,
    installed  BOOLEAN NOT NULL,
    checked_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, pass_id)
);

-- +goose Down
DROP TABLE google_install_states;
ALTER TABLE tenants DROP COLUMN activity_split_key;
