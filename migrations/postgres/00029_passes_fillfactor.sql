-- +goose Up
-- Every journey update rewrites its pass's row in the passes read model (its data, message, version and
-- lastUpdated tag), and no indexed column of it changes (tenant_id, pass_id, email_lower, custom_id): with room on
-- its page the new version is a HOT update, which writes no entry in the table's three indexes and lets a later
-- update reuse the dead version's space as soon as the page is pruned. Full pages (the default fillfactor of 100)
-- sent nearly every update to another page, with an entry in each index. As 00023 does for stream_snapshots;
-- existing pages keep their layout until they are rewritten, new and pruned pages keep the room.
ALTER TABLE passes SET (fillfactor = 70);

-- +goose Down
ALTER TABLE passes RESET (fillfactor);
