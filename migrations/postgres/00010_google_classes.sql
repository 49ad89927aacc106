-- +goose Up
-- A tenant's Google Wallet class of a pass type (the pass registry's passType): the type of its objects
-- (generic, loyalty, offer, giftCard, eventTicket), the class's id in the Wallet API, and the JSON template of
-- its objects, checked when it was put. A put replaces the class (adapters/google/classes.go).
CREATE TABLE google_classes (
    tenant_id   TEXT NOT NULL,
    pass_type   TEXT NOT NULL,
    object_type TEXT NOT NULL,
    class_id    TEXT NOT NULL,
    template    TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, pass_type)
);

-- +goose Down
DROP TABLE google_classes;
