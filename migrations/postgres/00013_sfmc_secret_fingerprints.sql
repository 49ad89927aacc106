-- +goose Up
-- One row per SFMC signing secret of a tenant and secret key: a keyed hash of the secret (HMAC-SHA256 with a
-- subkey of the secret key, adapters/secretbox), since the secrets themselves are stored encrypted with a random
-- nonce and cannot be compared in SQL. The primary key makes a secret belong to one tenant, even when two
-- tenants are saved at once. During a key rotation a secret has a row under each key, so instances on either key
-- see the same conflicts. passpush fills the rows of existing tenants when it starts (service.SealSecrets).
CREATE TABLE sfmc_secret_fingerprints (
    key_id      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    PRIMARY KEY (key_id, fingerprint)
);
CREATE INDEX sfmc_secret_fingerprints_tenant ON sfmc_secret_fingerprints (tenant_id);

-- +goose Down
DROP TABLE sfmc_secret_fingerprints;
