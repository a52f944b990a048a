-- The span archive (a database file of its own beside the main one: `<name>.archive.db`),
-- written by a writer thread of its own. For every `POST /api/ingest/` it commits, and fsyncs,
-- before the client's 201: the body as received, and a row per span that was not stored before
-- (pointing into the body). The projection of a batch into the main database (conversations,
-- messages, action logs, token usage) follows, done by the main database's writer, which records
-- the last batch it projected (`span_log` there).

-- Bodies. Ids only grow (AUTOINCREMENT): a batch none of whose spans was new (a resend) is
-- deleted once projected, and its id is never given again. `first_span`..`last_span` are the row
-- ids of the spans it stored (what its projection projects, with `releases`).
CREATE TABLE batches (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id    INTEGER NOT NULL,
    received_at INTEGER NOT NULL,        -- µs since the Unix epoch
    encoding    INTEGER NOT NULL,        -- 0 the JSON text, 1 gzip as sent, 2 format byte + zstd frame
    body        BLOB NOT NULL,
    first_span  INTEGER,
    last_span   INTEGER
) STRICT;

-- One row per span, stored once per conversation (a resend has the same start and id). The
-- conversation is the agent's `conversation_id` (the main database's conversation row is made
-- by the projection). `state`: 0 held (a turn's child that arrived before its turn), 1
-- projected, 2 archived only (children of incomplete turns, unknown kinds, ...).
CREATE TABLE spans (
    id              INTEGER PRIMARY KEY,
    agent_id        INTEGER NOT NULL,
    conversation_id TEXT NOT NULL,
    span_id         INTEGER NOT NULL,      -- the 64-bit OTel span id (hex on the wire)
    trace_id        TEXT NOT NULL,
    trace_key       INTEGER NOT NULL,      -- the trace id's first 15 hex digits (traces.rs)
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
    batch_id        INTEGER NOT NULL,      -- batches(id): the body holding its text
    text_offset     INTEGER NOT NULL,      -- byte range of the span as sent in the decoded body
    text_len        INTEGER NOT NULL,
    received_at     INTEGER NOT NULL
);
-- A conversation's spans in start order (new ones land on its last page), and a resend found.
CREATE UNIQUE INDEX spans_conversation ON spans (agent_id, conversation_id, started_at, span_id);
CREATE INDEX spans_agent_started ON spans (agent_id, started_at);
-- Children waiting for their turn.
CREATE INDEX spans_held ON spans (agent_id, conversation_id, turn_id) WHERE state = 0;

-- Held children a batch's turns released: its projection projects them too.
CREATE TABLE releases (
    batch_id INTEGER NOT NULL,
    span     INTEGER NOT NULL,
    PRIMARY KEY (batch_id, span)
) WITHOUT ROWID;

-- Trace look-ups without a b-tree keyed by random trace ids: every SEGMENT_SPANS consecutive span
-- row ids get a Bloom filter of their (agent, trace key) pairs once they are all written
-- (`traces.rs`).
CREATE TABLE trace_segments (
    last_span  INTEGER PRIMARY KEY,
    first_span INTEGER NOT NULL,
    filter     BLOB NOT NULL
) STRICT;
