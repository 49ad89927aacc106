-- +goose Up
-- The audit log outlives the events it copies (passpush events archive keeps it whole), so its bytes per event
-- are what the database keeps for good.
--
-- Payloads are stored deflated by the projection (adapters/audit.DecodePayload reads both forms): PostgreSQL's
-- own compression leaves every value of a row under 2 kB alone, whatever toast_tuple_target says. Rows written
-- before keep their JSON, as bytes.
ALTER TABLE audit_log ALTER COLUMN data TYPE BYTEA USING convert_to(data, 'UTF8');
-- The journey's and the pass's indexes drop the position: a key that repeats is then stored once per leaf page
-- with the list of its rows (B-tree deduplication), about 7 bytes a row instead of about 45. A pass's page of
-- the feed sorts the pass's rows by position; a journey's walks audit_log_tenant and skips other journeys' rows
-- when the journey is most of the tenant's events, as the planner judges from the statistics.
DROP INDEX audit_log_journey;
DROP INDEX audit_log_pass;
CREATE INDEX audit_log_journey ON audit_log (tenant_id, journey_id) WHERE journey_id <> '';
CREATE INDEX audit_log_pass ON audit_log (tenant_id, pass_id) WHERE pass_id <> '';
-- Every read of the log names the tenant, so audit_log_tenant serves them; the event id, which the projection
-- dedupes on, becomes the primary key, and the index of positions alone goes.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey, DROP CONSTRAINT audit_log_event_id_key,
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (event_id);

-- +goose Down
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_event_id_key UNIQUE (event_id);
ALTER TABLE audit_log ADD CONSTRAINT audit_log_pkey PRIMARY KEY (position);
DROP INDEX audit_log_journey;
DROP INDEX audit_log_pass;
CREATE INDEX audit_log_journey ON audit_log (tenant_id, journey_id, position) WHERE journey_id <> '';
CREATE INDEX audit_log_pass ON audit_log (tenant_id, pass_id, position) WHERE pass_id <> '';
-- SQL cannot inflate a payload: a deflated one goes back as {"deflatedPayload":"<hex>"}, which keeps it, and
-- passpush projections rebuild --projection audit writes again from the store (its events not archived).
ALTER TABLE audit_log ALTER COLUMN data TYPE TEXT USING CASE
    WHEN substring(data FROM 1 FOR 1) = '\x01'::bytea THEN json_build_object('deflatedPayload', encode(data, 'hex'))::text
    ELSE convert_from(data, 'UTF8') END;
