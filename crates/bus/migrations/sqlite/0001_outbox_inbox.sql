-- Events waiting to be published. A row is written in the same transaction as the state change
-- it announces and deleted by the relay once the bus has acknowledged it.
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          BLOB NOT NULL UNIQUE,
    subject     TEXT NOT NULL,
    envelope    BLOB NOT NULL,
    headers     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Events a consumer has applied: at-least-once delivery becomes exactly-once effect.
CREATE TABLE inbox (
    consumer     TEXT NOT NULL,
    event_id     BLOB NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (consumer, event_id)
) WITHOUT ROWID;
CREATE INDEX inbox_processed_at ON inbox (processed_at);
