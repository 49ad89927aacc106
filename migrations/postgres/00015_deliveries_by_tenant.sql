-- +goose Up
-- Fair claims (ports/delivery/fair.go): the delivery stage lists the tenants with due deliveries, one index step
-- per tenant, and claims each tenant's oldest due deliveries up to its share. Both walk this index, so neither
-- scans the deliveries of a tenant with a large backlog to find another tenant's.
CREATE INDEX deliveries_tenant_due ON deliveries (tenant_id, next_attempt_at);

-- +goose Down
DROP INDEX deliveries_tenant_due;
