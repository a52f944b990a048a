-- The event store's share of PostgreSQL: what must be unique across nodes and read back exactly
-- right after a change. ClickHouse keeps the events (see src/schema.rs).

-- The conversation registry: (agent, conversation id) -> pk, with the row's current mutable
-- fields. Every change bumps `version`; the same version of the row is then copied to
-- ClickHouse's `conversations` (a ReplacingMergeTree on `version`).
CREATE TABLE event_conversations (
    id                  BIGSERIAL PRIMARY KEY,
    agent_id            BIGINT NOT NULL,
    conversation_id     TEXT NOT NULL,
    name                TEXT,
    customer_id         TEXT,
    customer_ip_address TEXT,
    country             TEXT,
    region              TEXT,
    city                TEXT,
    latitude            DOUBLE PRECISION,
    longitude           DOUBLE PRECISION,
    device              TEXT,
    source              TEXT,
    language            TEXT,
    environment         TEXT,
    metadata            TEXT,
    is_used             BOOLEAN NOT NULL DEFAULT false,
    is_marked           BOOLEAN NOT NULL DEFAULT false,
    is_deleted          BOOLEAN NOT NULL DEFAULT false,
    deleted_at          BIGINT,
    started_at          BIGINT NOT NULL,
    ended_at            BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    version             BIGINT NOT NULL DEFAULT 1,
    CONSTRAINT event_conversations_unique UNIQUE (agent_id, conversation_id)
);
CREATE INDEX event_conversations_started ON event_conversations (agent_id, started_at DESC, id DESC);

-- Event ids (messages, actions, buttons, feedback) are handed out in blocks: a node takes the
-- next value n and uses the ids n*1000 .. n*1000+999 (see src/ids.rs).
CREATE SEQUENCE event_id_blocks;

-- Attachment rows (the files themselves are in blob storage).
CREATE TABLE event_attachments (
    id              BIGSERIAL PRIMARY KEY,
    agent_id        BIGINT NOT NULL,
    conversation_pk BIGINT NOT NULL REFERENCES event_conversations (id),
    message_id      BIGINT,
    sender          TEXT,
    filename        TEXT NOT NULL,
    mime_type       TEXT NOT NULL,
    size_bytes      BIGINT NOT NULL,
    storage_key     TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    ts              BIGINT NOT NULL
);
CREATE INDEX event_attachments_conversation ON event_attachments (conversation_pk);
