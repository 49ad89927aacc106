-- +goose Up
-- PostgreSQL's 00021 stores the audit log's payloads as bytes and narrows two of its indexes. SQLite keeps its
-- layout: a TEXT column holds the projection's deflated payloads as blobs (adapters/audit.DecodePayload reads
-- both forms), and its indexes have no deduplication to gain from. The version is kept so the two folders stay
-- in step.
SELECT 1;

-- +goose Down
-- The version before reads the payloads as text: a deflated one, which SQL cannot inflate, goes back as
-- {"deflatedPayload":"<hex>"}, and passpush projections rebuild --projection audit writes it again from the store.
UPDATE audit_log SET data = json_object('deflatedPayload', lower(hex(data))) WHERE typeof(data) = 'blob';
