-- 0010: the metrics index's journal (see src/index.rs, "Persisted").
-- Every write group that bumps write_log.seq also stores what it changed in the metric facts
-- (the touched conversations' states and the entries, as the index applies them), in the same
-- transaction, under that seq. A server starts from its snapshot file (`agentsight.index`,
-- taken at some seq) and replays the groups after it; a write by another process (the CLI,
-- `agentsight demo`) is applied from here instead of rebuilding the index. The server deletes
-- the groups its latest snapshot holds (all but the last, which anchors the snapshot to this
-- database's history).
CREATE TABLE index_journal (
    seq   INTEGER PRIMARY KEY,
    batch BLOB NOT NULL
);
