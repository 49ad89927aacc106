-- +goose Up
-- Tables that turn over: every delivery is inserted, leased and deleted, and serve prunes the message tables
-- behind their consumers. Autovacuum's default waits for a fifth of a table to be dead, which on a queue that is
-- nearly empty between bursts means rarely or never; a fixed threshold vacuums after every thousand dead rows.
-- serve also vacuums the delivery queue itself (adapters/delivery.Queue.Vacuum), for servers where autovacuum is
-- off or behind. A lease renewal changes no indexed column: room on each page lets it stay a HOT update.
ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, fillfactor = 80);
ALTER TABLE watermill_events SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);
ALTER TABLE watermill_commands SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);
ALTER TABLE watermill_commands_1 SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);
ALTER TABLE watermill_commands_2 SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);
ALTER TABLE watermill_commands_3 SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);

-- +goose Down
ALTER TABLE watermill_commands_3 RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold);
ALTER TABLE watermill_commands_2 RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold);
ALTER TABLE watermill_commands_1 RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold);
ALTER TABLE watermill_commands RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold);
ALTER TABLE watermill_events RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold);
ALTER TABLE deliveries RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, fillfactor);
