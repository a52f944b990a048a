-- 0008: span batches archived whole in the archive database (`<name>.archive.db`, see
-- migrations/archive/) and projected after their 201. Before this migration runs, the store
-- copies every `span_chunks` row into the archive's `batches` under the same id (a block's chunk
-- is a body of encoding 2, a span archived before 0005 one of encoding 0), in a transaction of
-- the archive's own, so that nothing is lost if this one does not commit.

-- The last archived batch whose projection is committed here (every one before it is too): a
-- batch archived but not projected (the server stopped between the two) is projected again
-- at the next start. The chunks of 0005–0007 were projected when they were written.
CREATE TABLE span_log (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    projected INTEGER NOT NULL
);
INSERT INTO span_log (id, projected) VALUES (1, (SELECT coalesce(max(id), 0) FROM span_chunks));

-- A batch that could not be projected (it no longer validates, or its projection failed
-- twice): it stays in the archive, its spans unprojected, and the log says why.
CREATE TABLE span_log_failures (
    batch_id  INTEGER PRIMARY KEY,
    error     TEXT NOT NULL,
    at        INTEGER NOT NULL
);

-- Trace look-ups without a b-tree keyed by random trace ids: every SEGMENT_SPANS consecutive
-- span row ids get a Bloom filter of their (agent, trace key) pairs once they are all written
-- (agentsight-store-sqlite's `traces.rs`; this migration seals the spans already stored).
CREATE TABLE trace_segments (
    last_span  INTEGER PRIMARY KEY,
    first_span INTEGER NOT NULL,
    filter     BLOB NOT NULL
) STRICT;

CREATE TABLE spans_0008 (
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
    state           INTEGER NOT NULL,      -- 0 held, 1 projected, 2 archived only
    sdk_version     TEXT,
    batch_id        INTEGER NOT NULL,      -- archive.batches(id), in the archive database
    text_offset     INTEGER NOT NULL,      -- byte range of the span as sent in the decoded body
    text_len        INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    trace_key       INTEGER NOT NULL
);
INSERT INTO spans_0008 (id, agent_id, conversation_pk, span_id, trace_id, parent_span_id, turn_id, kind,
        name, status, started_at, ended_at, duration_ms, state, sdk_version, batch_id, text_offset, text_len,
        received_at, trace_key)
    SELECT id, agent_id, conversation_pk, span_id, trace_id, parent_span_id, turn_id, kind, name, status,
        started_at, ended_at, duration_ms, state, sdk_version, chunk_id, chunk_offset, chunk_len,
        received_at, trace_key
    FROM spans;
DROP TABLE spans;
DROP TABLE span_chunks;
ALTER TABLE spans_0008 RENAME TO spans;
-- A conversation's spans in start order; a resend (the same span: same start, same id) is found
-- here and stored once. Unique on (conversation, span id) before 0008: span ids are random, so
-- each new span of a long conversation landed on a page of its own within the conversation's
-- range; in start order, new spans land on its last page. Traces are found through
-- `trace_segments` (above), not an index on the random trace ids.
CREATE UNIQUE INDEX spans_conversation ON spans (conversation_pk, started_at, span_id);
CREATE INDEX spans_agent_started ON spans (agent_id, started_at);
CREATE INDEX spans_held ON spans (conversation_pk, turn_id) WHERE state = 0;
