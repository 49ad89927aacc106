-- +goose Up
-- Commands are spread over four topics by pass ("commands" is the first), so four consumers schedule updates
-- at once while the updates of one pass stay in order.
CREATE TABLE watermill_commands_1 (
    "offset"       BIGSERIAL,
    uuid           VARCHAR(36) NOT NULL,
    created_at     TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    payload        JSON DEFAULT NULL,
    metadata       JSON DEFAULT NULL,
    transaction_id xid8 NOT NULL,
    PRIMARY KEY (transaction_id, "offset")
);
CREATE TABLE watermill_offsets_commands_1 (
    consumer_group                VARCHAR(255) NOT NULL PRIMARY KEY,
    offset_acked                  BIGINT,
    last_processed_transaction_id xid8 NOT NULL
);
CREATE TABLE watermill_commands_2 (
    "offset"       BIGSERIAL,
    uuid           VARCHAR(36) NOT NULL,
    created_at     TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    payload        JSON DEFAULT NULL,
    metadata       JSON DEFAULT NULL,
    transaction_id xid8 NOT NULL,
    PRIMARY KEY (transaction_id, "offset")
);
CREATE TABLE watermill_offsets_commands_2 (
    consumer_group                VARCHAR(255) NOT NULL PRIMARY KEY,
    offset_acked                  BIGINT,
    last_processed_transaction_id xid8 NOT NULL
);
CREATE TABLE watermill_commands_3 (
    "offset"       BIGSERIAL,
    uuid           VARCHAR(36) NOT NULL,
    created_at     TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    payload        JSON DEFAULT NULL,
    metadata       JSON DEFAULT NULL,
    transaction_id xid8 NOT NULL,
    PRIMARY KEY (transaction_id, "offset")
);
CREATE TABLE watermill_offsets_commands_3 (
    consumer_group                VARCHAR(255) NOT NULL PRIMARY KEY,
    offset_acked                  BIGINT,
    last_processed_transaction_id xid8 NOT NULL
);

-- +goose Down
DROP TABLE watermill_offsets_commands_3;
DROP TABLE watermill_commands_3;
DROP TABLE watermill_offsets_commands_2;
DROP TABLE watermill_commands_2;
DROP TABLE watermill_offsets_commands_1;
DROP TABLE watermill_commands_1;
