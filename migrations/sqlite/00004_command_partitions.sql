-- +goose Up
-- Commands are spread over four topics by pass ("commands" is the first), so four consumers schedule updates
-- at once while the updates of one pass stay in order.
CREATE TABLE "watermill_commands_1" (
    "offset"   INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid       TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    payload    BLOB,
    metadata   TEXT
);
CREATE TABLE "watermill_offsets_commands_1" (
    consumer_group TEXT PRIMARY KEY,
    offset_acked   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE "watermill_commands_2" (
    "offset"   INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid       TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    payload    BLOB,
    metadata   TEXT
);
CREATE TABLE "watermill_offsets_commands_2" (
    consumer_group TEXT PRIMARY KEY,
    offset_acked   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE "watermill_commands_3" (
    "offset"   INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid       TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    payload    BLOB,
    metadata   TEXT
);
CREATE TABLE "watermill_offsets_commands_3" (
    consumer_group TEXT PRIMARY KEY,
    offset_acked   INTEGER NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE watermill_offsets_commands_3;
DROP TABLE watermill_commands_3;
DROP TABLE watermill_offsets_commands_2;
DROP TABLE watermill_commands_2;
DROP TABLE watermill_offsets_commands_1;
DROP TABLE watermill_commands_1;
