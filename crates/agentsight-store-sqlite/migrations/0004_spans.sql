-- 0004: the 0.1.x span plane. Every span is archived whole in `spans`; conversations, messages,
-- action logs and buttons are projected into the 0.0.x tables; LLM calls into `token_usage`.

-- One row per span, deduplicated on (conversation, span id): the exporter resends identical
-- batches after 5xx answers and timeouts. `state`: 0 held (a turn's child that arrived before
-- its turn), 1 projected, 2 archived only (incomplete turns' children, unknown kinds, ...).
CREATE TABLE spans (
    id              INTEGER PRIMARY KEY,
    agent_id        INTEGER NOT NULL,
    conversation_pk INTEGER NOT NULL REFERENCES conversations(id),
    span_id         INTEGER NOT NULL,      -- the 64-bit OTel span id (hex on the wire)
    trace_id        TEXT NOT NULL,
    parent_span_id  INTEGER,
    turn_id         INTEGER,
    kind            TEXT NOT NULL,
    name            TEXT NOT NULL,
    status          TEXT NOT NULL,
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER NOT NULL,
    duration_ms     REAL,
    state           INTEGER NOT NULL,
    sdk_version     TEXT,
    payload         TEXT NOT NULL,         -- the span exactly as sent
    received_at     INTEGER NOT NULL,
    UNIQUE (conversation_pk, span_id)
);
CREATE INDEX spans_agent_trace ON spans (agent_id, trace_id);
CREATE INDEX spans_agent_started ON spans (agent_id, started_at);
-- Children waiting for their turn.
CREATE INDEX spans_held ON spans (conversation_pk, turn_id) WHERE state = 0;

-- LLM usage: one row per (turn, model); an LLM call outside any turn has its own row
-- (`turn_key` = 's' || span id; a turn's rows have 't' || turn id).
CREATE TABLE token_usage (
    id                  INTEGER PRIMARY KEY,
    agent_id            INTEGER NOT NULL,
    conversation_pk     INTEGER NOT NULL REFERENCES conversations(id),
    turn_key            TEXT NOT NULL,
    turn_id             INTEGER,
    model               TEXT NOT NULL,
    system              TEXT,
    calls               INTEGER NOT NULL,
    unreported_calls    INTEGER NOT NULL,
    error_calls         INTEGER NOT NULL,
    input_tokens        INTEGER NOT NULL,
    output_tokens       INTEGER NOT NULL,
    cache_read_tokens   INTEGER NOT NULL,
    cache_write_tokens  INTEGER NOT NULL,
    embedding_tokens    INTEGER NOT NULL,
    reasoning_tokens    INTEGER NOT NULL,
    audio_input_tokens  INTEGER NOT NULL,
    audio_output_tokens INTEGER NOT NULL,
    cost_pico           INTEGER,            -- pico-USD from the price table; NULL = unpriced
    cost_source         TEXT NOT NULL,      -- backend | unpriced | reported
    price_table         TEXT,               -- the price table date the cost was computed with
    incomplete          INTEGER NOT NULL,
    incomplete_reason   TEXT,
    started_at          INTEGER NOT NULL,   -- the first call's start (event time of the row)
    ended_at            INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (conversation_pk, turn_key, model)
);
CREATE INDEX token_usage_agent_started ON token_usage (agent_id, started_at);

-- Action definitions (B5.5): created by name the first time a tool appears, or by the API.
CREATE TABLE actions (
    id           INTEGER PRIMARY KEY,
    agent_id     INTEGER NOT NULL REFERENCES agents(id),
    name         TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description  TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (agent_id, name)
);
INSERT INTO actions (agent_id, name, display_name, created_at, updated_at)
    SELECT agent_id, action_name, action_name, min(ts), min(ts) FROM action_logs GROUP BY agent_id, action_name;

-- Message votes and agent feedback (B5.4). Conversation feedback stays in `feedbacks`, the only
-- table the metrics read, so neither kind here counts as a conversation's explicit feedback.
-- Ids start at 1,000,000,001 so that `/api/feedbacks/{id}/` names one row of either table.
CREATE TABLE feedback_votes (
    id              INTEGER PRIMARY KEY,
    agent_id        INTEGER NOT NULL REFERENCES agents(id),
    kind            TEXT NOT NULL CHECK (kind IN ('message', 'agent')),
    conversation_pk INTEGER REFERENCES conversations(id),
    message_id      INTEGER REFERENCES messages(id),
    sentiment       TEXT NOT NULL,
    source          TEXT NOT NULL,
    comment         TEXT,
    topic           TEXT,
    reason          TEXT,
    environment     TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX feedback_votes_message ON feedback_votes (message_id) WHERE kind = 'message';
CREATE INDEX feedback_votes_agent ON feedback_votes (agent_id, created_at);
ALTER TABLE feedbacks ADD COLUMN updated_at INTEGER;
