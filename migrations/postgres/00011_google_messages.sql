-- +goose Up
-- The messages the Google channel added to each pass's object, by message id (the update's eventId), and whether
-- each notified the customer (TEXT_AND_NOTIFY) or not (TEXT). Google allows 3 notifying messages per pass per 24
-- hours: the channel counts them here, so a restart or another instance does not reset the count, and a retry of
-- an update reuses its row, so a message is counted once. Times are Unix microseconds. Rows older than two days
-- are pruned as messages are added.
CREATE TABLE google_messages (
    tenant_id  TEXT NOT NULL,
    pass_id    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    notify     BOOLEAN NOT NULL,
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, pass_id, message_id)
);
CREATE INDEX google_messages_recent ON google_messages (tenant_id, pass_id, added_at);

-- The instances calling the Wallet API, each seen at most a few seconds ago: a tenant's rate is divided among
-- them (adapters/google/limiter.go). seen_at is in Unix microseconds.
CREATE TABLE google_callers (
    instance_id TEXT PRIMARY KEY,
    seen_at     BIGINT NOT NULL
);

-- +goose Down
DROP TABLE google_callers;
DROP TABLE google_messages;
