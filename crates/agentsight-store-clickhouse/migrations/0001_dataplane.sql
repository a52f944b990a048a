-- The data plane's share of PostgreSQL (src/dataplane.rs): what is changed in place and must read
-- back exactly, on every node, as soon as the change is acknowledged.

-- Message votes and agent feedback (one vote per message: a repeat updates it). Ids come from
-- the event id allocator, so an id names one row of this table or of ClickHouse's `feedbacks`.
CREATE TABLE event_votes (
    id              BIGINT PRIMARY KEY,
    agent_id        BIGINT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('message', 'agent')),
    conversation_pk BIGINT,
    message_id      BIGINT,
    sentiment       TEXT NOT NULL,
    source          TEXT NOT NULL,
    comment         TEXT,
    topic           TEXT,
    reason          TEXT,
    environment     TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX event_votes_message ON event_votes (message_id) WHERE kind = 'message';
CREATE INDEX event_votes_agent ON event_votes (agent_id, created_at, id);

-- Action definitions (B5.5): unique names per agent.
CREATE TABLE event_actions (
    id           BIGSERIAL PRIMARY KEY,
    agent_id     BIGINT NOT NULL,
    name         TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description  TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    CONSTRAINT event_actions_name_unique UNIQUE (agent_id, name)
);

-- Message metadata replaced after the message was stored: it wins over the metadata of the
-- message's row in ClickHouse (which is never rewritten).
CREATE TABLE event_message_metadata (
    message_id      BIGINT PRIMARY KEY,
    agent_id        BIGINT NOT NULL,
    conversation_pk BIGINT NOT NULL,
    kind            SMALLINT NOT NULL,
    metadata        TEXT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX event_message_metadata_conversation ON event_message_metadata (conversation_pk);
CREATE INDEX event_message_metadata_agent ON event_message_metadata (agent_id);

-- The last version written of each changed conversation feedback record (ClickHouse's
-- `feedbacks` keeps every version; the row lock here orders changes of one record across nodes).
CREATE TABLE event_feedback_versions (
    id      BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);
