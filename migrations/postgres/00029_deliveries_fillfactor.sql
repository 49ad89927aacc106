-- +goose Up
-- Each delivery's row is updated at least once, when a claim leases it, and a claim leases hundreds of rows at a
-- time, every row of a page at once. At 00020's fillfactor of 80 a page of deliveries (about 550 bytes a row,
-- most of it the update's payload) had room for the new versions of two or three of its eleven rows: the others
-- went to another page, with an entry in each of the table's four indexes, and three claims in four were not HOT
-- updates. Half a page free takes a new version of every row, so a claim, a renewal and a retry write no index.
-- The table holds only the deliveries not yet made, so the room costs little.
ALTER TABLE deliveries SET (fillfactor = 50);

-- +goose Down
ALTER TABLE deliveries SET (fillfactor = 80);
