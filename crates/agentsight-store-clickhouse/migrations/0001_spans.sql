-- The span plane's share of PostgreSQL (see src/spans.rs): what decides, across nodes, whether a
-- span was stored before, what became of it (held, projected, archived), and the token usage
-- rows, which are merged per (turn, model) and repriced in place. The spans themselves (their
-- columns and their text as sent) are in ClickHouse's `spans`.

-- One row per span stored: unique per (agent, conversation id, start, span id), so a resend
-- (the SDK retries after a timeout) stores nothing. `id` is the span's row id in ClickHouse.
-- `effect` is what it projects into (0 nothing, 1 turn, 2 tool, 3 LLM call, 4 button); a
-- turn keeps its trace and completeness for the children that arrive after it.
CREATE TABLE event_spans (
    id              BIGSERIAL PRIMARY KEY,
    agent_id        BIGINT NOT NULL,
    conversation_id TEXT NOT NULL,
    started_at      BIGINT NOT NULL,
    span_id         BIGINT NOT NULL,
    turn_id         BIGINT,
    effect          SMALLINT NOT NULL,
    state           SMALLINT NOT NULL,
    trace_id        TEXT,
    turn_complete   BOOLEAN,
    turn_reason     TEXT,
    CONSTRAINT event_spans_unique UNIQUE (agent_id, conversation_id, started_at, span_id)
);
-- A conversation's turns, for a child arriving after its turn.
CREATE INDEX event_spans_turns ON event_spans (agent_id, conversation_id, span_id) WHERE effect = 1;
-- Children waiting for their turn (few).
CREATE INDEX event_spans_held ON event_spans (agent_id, conversation_id, turn_id) WHERE state = 0;

-- Span batch ids (a receipt's `batch_id`; the spans' `batch_id` in ClickHouse).
CREATE SEQUENCE event_span_batches;

-- Token usage: one row per (conversation, turn, model), or per LLM call outside any turn
-- (turn_key `s<span id>`), as in the embedded store.
CREATE TABLE event_token_usage (
    id                  BIGSERIAL PRIMARY KEY,
    agent_id            BIGINT NOT NULL,
    conversation_pk     BIGINT NOT NULL REFERENCES event_conversations (id),
    turn_key            TEXT NOT NULL,
    turn_id             BIGINT,
    model               TEXT NOT NULL,
    system              TEXT,
    calls               BIGINT NOT NULL,
    unreported_calls    BIGINT NOT NULL,
    error_calls         BIGINT NOT NULL,
    input_tokens        BIGINT NOT NULL,
    output_tokens       BIGINT NOT NULL,
    cache_read_tokens   BIGINT NOT NULL,
    cache_write_tokens  BIGINT NOT NULL,
    embedding_tokens    BIGINT NOT NULL,
    reasoning_tokens    BIGINT NOT NULL,
    audio_input_tokens  BIGINT NOT NULL,
    audio_output_tokens BIGINT NOT NULL,
    cost_pico           BIGINT,
    cost_source         TEXT NOT NULL,
    price_table         TEXT,
    incomplete          BOOLEAN NOT NULL,
    incomplete_reason   TEXT,
    started_at          BIGINT NOT NULL,
    ended_at            BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    CONSTRAINT event_token_usage_unique UNIQUE (conversation_pk, turn_key, model)
);
CREATE INDEX event_token_usage_started ON event_token_usage (agent_id, started_at DESC, id DESC);
