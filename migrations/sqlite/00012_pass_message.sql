-- +goose Up
-- The message of a pass's latest journey update, which a wallet shows on the lock screen: a pass served to a
-- device carries it in its message field. A rebuild of the passes projection fills it from the events.
ALTER TABLE passes ADD COLUMN message TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE passes DROP COLUMN message;
