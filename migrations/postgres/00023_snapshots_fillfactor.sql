-- +goose Up
-- Every append rewrites its stream's snapshot row, and no indexed column of it changes: with room on its page the
-- new version is a HOT update, which skips the primary key and lets the next update reuse the dead version's
-- space as soon as the page is pruned, without waiting for a vacuum. Full pages (the default fillfactor of 100)
-- sent two updates in three to a new page, and the table grew to about nine times its live rows while serving.
-- Existing pages keep their layout until they are rewritten; new and pruned pages keep the room.
ALTER TABLE stream_snapshots SET (fillfactor = 70);

-- +goose Down
ALTER TABLE stream_snapshots RESET (fillfactor);
