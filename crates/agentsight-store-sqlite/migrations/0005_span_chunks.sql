-- 0005: the span archive in compressed chunks. The spans of one block of a batch are stored
-- together in one `span_chunks` row: their texts as sent, one after another (a newline between
-- two), as one zstd frame behind a format byte (agentsight-core's `archive` module). A span row
-- keeps the byte range of its text in the decoded chunk instead of the text itself.

CREATE TABLE span_chunks (
    id              INTEGER PRIMARY KEY,
    conversation_pk INTEGER NOT NULL REFERENCES conversations(id),
    data            ANY NOT NULL           -- BLOB: format byte + frame; TEXT: one span from 0004
) STRICT;

-- Spans archived before this migration keep their exact text: each becomes a TEXT chunk of its
-- own (its row id reused as the chunk id), read back as is.
INSERT INTO span_chunks (id, conversation_pk, data) SELECT id, conversation_pk, payload FROM spans;

CREATE TABLE spans_0005 (
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
    chunk_id        INTEGER NOT NULL REFERENCES span_chunks(id),
    chunk_offset    INTEGER NOT NULL,      -- byte range of the span as sent in the decoded chunk
    chunk_len       INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    UNIQUE (conversation_pk, span_id)
);
INSERT INTO spans_0005 (id, agent_id, conversation_pk, span_id, trace_id, parent_span_id, turn_id, kind,
        name, status, started_at, ended_at, duration_ms, state, sdk_version, chunk_id, chunk_offset,
        chunk_len, received_at)
    SELECT id, agent_id, conversation_pk, span_id, trace_id, parent_span_id, turn_id, kind, name, status,
        started_at, ended_at, duration_ms, state, sdk_version, id, 0, length(CAST(payload AS BLOB)), received_at
    FROM spans;
DROP TABLE spans;
ALTER TABLE spans_0005 RENAME TO spans;
CREATE INDEX spans_agent_trace ON spans (agent_id, trace_id);
CREATE INDEX spans_agent_started ON spans (agent_id, started_at);
CREATE INDEX spans_held ON spans (conversation_pk, turn_id) WHERE state = 0;
