-- Events waiting to be published. A row is written in the same transaction as the state change
-- it announces and deleted by the relay once the bus has acknowledged it.
CREATE TABLE outbox (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          UUID NOT NULL UNIQUE,
    subject     TEXT NOT NULL,
    envelope    BYTEA NOT NULL,
    headers     JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

-- Events a consumer has applied: at-least-once delivery becomes exactly-once effect.
CREATE TABLE inbox (
    consumer     TEXT NOT NULL,
    event_id     UUID NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX inbox_processed_at ON inbox (processed_at);
