-- 0001: agents, keys, and the 0.0.x tracking plane. Times are microseconds since the Unix epoch (UTC).
CREATE TABLE agents (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    created_at       INTEGER NOT NULL,
    -- JSON array of action names counted as human escalation; NULL = the default list.
    escalation_tools TEXT
);

CREATE TABLE environments (
    id            INTEGER PRIMARY KEY,
    agent_id      INTEGER NOT NULL REFERENCES agents(id),
    slug          TEXT NOT NULL,
    name          TEXT NOT NULL,
    is_production INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (agent_id, slug)
);

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    agent_id    INTEGER NOT NULL REFERENCES agents(id),
    prefix      TEXT NOT NULL,
    hash        BLOB NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('write', 'read')),
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE conversations (
    id                  INTEGER PRIMARY KEY,
    agent_id            INTEGER NOT NULL REFERENCES agents(id),
    conversation_id     TEXT NOT NULL,
    name                TEXT,
    customer_id         TEXT,
    customer_ip_address TEXT,
    country             TEXT,
    region              TEXT,
    city                TEXT,
    latitude            REAL,
    longitude           REAL,
    device              TEXT,
    source              TEXT,
    language            TEXT,
    environment         TEXT,
    metadata            TEXT,
    is_used             INTEGER NOT NULL DEFAULT 0,
    is_marked           INTEGER NOT NULL DEFAULT 0,
    is_deleted          INTEGER NOT NULL DEFAULT 0,
    deleted_at          INTEGER,
    started_at          INTEGER NOT NULL,
    ended_at            INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (agent_id, conversation_id)
);
CREATE INDEX conversations_agent_started ON conversations (agent_id, started_at);

-- Messages, actions (kind 1) and buttons (kind 2) share one id space, as transcripts interleave them.
-- A conversation's message count and last event time are read from here (covering index), not
-- kept on the conversation row: updating that row for every message would dirty one more random
-- page per write.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    agent_id        INTEGER NOT NULL,
    conversation_pk INTEGER NOT NULL REFERENCES conversations(id),
    kind            INTEGER NOT NULL,
    sender          TEXT NOT NULL,
    content         TEXT NOT NULL,
    ts              INTEGER NOT NULL,
    metadata        TEXT NOT NULL,
    received_at     INTEGER NOT NULL,
    -- For an agent message whose previous message in the conversation (by ts, then id) is the
    -- end user's: the bot response time in µs (metrics.md). Kept current at ingest, also when
    -- a message arrives out of order.
    response_us     INTEGER
);
CREATE INDEX messages_conversation ON messages (conversation_pk, ts, kind);
-- Metrics: an agent's messages in a time range (covering: sender and response time included).
CREATE INDEX messages_agent_ts ON messages (agent_id, kind, ts, sender, response_us);

CREATE TABLE action_logs (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER NOT NULL UNIQUE REFERENCES messages(id),
    agent_id        INTEGER NOT NULL,
    conversation_pk INTEGER NOT NULL REFERENCES conversations(id),
    action_name     TEXT NOT NULL,
    started_at      INTEGER,
    ended_at        INTEGER,
    duration_ms     INTEGER,
    tools_used      TEXT,
    response        TEXT,
    error_msg       TEXT,
    metadata        TEXT NOT NULL,
    ts              INTEGER NOT NULL
);
CREATE INDEX action_logs_conversation ON action_logs (conversation_pk);
CREATE INDEX action_logs_agent_name ON action_logs (agent_id, action_name);
CREATE INDEX action_logs_agent_ts ON action_logs (agent_id, ts);

CREATE TABLE buttons (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER NOT NULL UNIQUE REFERENCES messages(id),
    agent_id        INTEGER NOT NULL,
    conversation_pk INTEGER NOT NULL REFERENCES conversations(id),
    button_event    TEXT NOT NULL,
    label           TEXT NOT NULL,
    value           TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    ts              INTEGER NOT NULL
);
CREATE INDEX buttons_conversation ON buttons (conversation_pk);

CREATE TABLE attachments (
    id              INTEGER PRIMARY KEY,
    agent_id        INTEGER NOT NULL,
    conversation_pk INTEGER NOT NULL REFERENCES conversations(id),
    message_id      INTEGER REFERENCES messages(id),
    sender          TEXT,
    filename        TEXT NOT NULL,
    mime_type       TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL,
    storage_key     TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    ts              INTEGER NOT NULL
);
CREATE INDEX attachments_conversation ON attachments (conversation_pk);

CREATE TABLE feedbacks (
    id              INTEGER PRIMARY KEY,
    agent_id        INTEGER NOT NULL,
    conversation_pk INTEGER NOT NULL REFERENCES conversations(id),
    sentiment       TEXT NOT NULL,
    source          TEXT NOT NULL,
    comment         TEXT,
    metadata        TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX feedbacks_conversation ON feedbacks (conversation_pk);
