-- 0008: the span archive moves to a database of its own (`<name>.archive.db`, migrations/archive/),
-- written before the 201 of `POST /api/ingest/`; this database gets the projection after it.
-- Before this migration runs, the store copies, in transactions of the archive's own (so nothing
-- is lost if this one does not commit): every `span_chunks` row into the archive's `batches`
-- under its id (a block's chunk is a body of encoding 2, a span archived before 0005 one of
-- encoding 0), then every `spans` row into the archive's `spans` under its id, with its
-- conversation's `conversation_id`, and seals their trace segments.

-- The last archived batch whose projection is committed here (every one before it is too): a
-- batch archived but not projected (the server stopped between the two) is projected again at
-- the next start. The chunks of 0005–0007 were projected when they were written.
CREATE TABLE span_log (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    projected INTEGER NOT NULL
);
INSERT INTO span_log (id, projected) VALUES (1, (SELECT coalesce(max(id), 0) FROM span_chunks));

-- A batch that could not be projected (it no longer validates, or its projection failed twice):
-- it stays in the archive, and the log says why.
CREATE TABLE span_log_failures (
    batch_id  INTEGER PRIMARY KEY,
    error     TEXT NOT NULL,
    at        INTEGER NOT NULL
);

DROP TABLE spans;
DROP TABLE span_chunks;
