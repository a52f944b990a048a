-- 0.0.x re-sends (docs/sdk-protocol.md): a message, action or button whose client gave its
-- event time is claimed here, in the transaction that spans its ClickHouse insert, by
-- (conversation, kind, event time, SHA-256 of its content). The same item sent again finds its
-- claim (ON CONFLICT DO NOTHING; a concurrent twin waits on the key until the first commits)
-- and is answered with the stored ids instead of being stored twice. `entry_id` is the
-- transcript entry (the `messages` row), `event_id` the action log or button (the entry for a
-- message). IF NOT EXISTS: a test rewinds `event_migrations` to rerun an earlier data step.
CREATE TABLE IF NOT EXISTS event_resends (
    conversation_pk BIGINT NOT NULL,
    kind            SMALLINT NOT NULL,
    event_time      BIGINT NOT NULL,
    digest          BYTEA NOT NULL,
    entry_id        BIGINT NOT NULL,
    event_id        BIGINT NOT NULL,
    PRIMARY KEY (conversation_pk, kind, event_time, digest)
);
