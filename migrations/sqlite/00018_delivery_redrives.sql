-- +goose Up
-- Redriving failed deliveries (passpush deliveries list/redrive) reads a tenant's PushUpdateFailed events and the
-- DeliveryRedriven events that answered them, stream by stream. The index holds only those, so the read costs
-- the failures, not the tenant's whole history.
CREATE INDEX events_delivery_failures ON events (tenant_id, stream_id, stream_version)
    WHERE event_type IN ('PushUpdateFailed', 'DeliveryRedriven');

-- A pass's push snapshot now keeps the revisions whose last outcome is a failure, which a redrive needs; the
-- snapshots written before lack them. Those of the streams with a failure are marked for replay (an empty
-- state, adapters/passes/repository.go): the next load replays the stream, and the next write stores a full one.
UPDATE stream_snapshots SET state = ''
WHERE stream_id LIKE 'pushes-%'
  AND EXISTS (
    SELECT 1 FROM events e
    WHERE e.tenant_id = stream_snapshots.tenant_id AND e.stream_id = stream_snapshots.stream_id
      AND e.event_type IN ('PushUpdateFailed', 'DeliveryRedriven'));

-- +goose Down
DROP INDEX events_delivery_failures;
