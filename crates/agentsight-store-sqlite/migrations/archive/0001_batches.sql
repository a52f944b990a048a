-- The span archive (a database file of its own beside the main one: `<name>.archive.db`).
-- Every `POST /api/ingest/` body is stored here as received, committed and fsynced before the
-- client's 201; the main database's span rows point into it (batch id, byte range of the span
-- in the decoded body), and the projection of a batch into conversations, messages, action logs
-- and token usage is done from it by the main database's writer, which records the last batch
-- it projected (`span_log` there). Ids only grow (AUTOINCREMENT): a batch whose spans were all
-- stored already (a resend) is deleted once projected, and its id is never given again.
CREATE TABLE batches (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id    INTEGER NOT NULL,
    received_at INTEGER NOT NULL,        -- µs since the Unix epoch
    encoding    INTEGER NOT NULL,        -- 0 the JSON text, 1 gzip as sent, 2 format byte + zstd frame
    body        BLOB NOT NULL
) STRICT;
