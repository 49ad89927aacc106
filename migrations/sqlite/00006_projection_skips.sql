-- +goose Up
-- Events an operator told one projection to pass over (`passpush projections skip`), because it stopped on them.
-- Written with the ProjectionSkipped event that records who skipped what and why, in one transaction.
CREATE TABLE projection_skips (
    projection TEXT NOT NULL,
    position   BIGINT NOT NULL,
    tenant_id  TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    PRIMARY KEY (projection, position)
);

-- +goose Down
DROP TABLE projection_skips;
