-- 0002: the in-memory metrics index (see src/index.rs).
-- write_log.seq counts the committed write groups that changed metric facts (conversations,
-- messages, actions, buttons, feedback), by any process. A server's index knows which of them
-- it applied itself; a larger number means another process (the CLI, `agentsight demo`) wrote.
CREATE TABLE write_log (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO write_log (id, seq) VALUES (1, 0);

-- The index loads every message from this covering index, and the raw plan's filtered
-- queries join to conversations from it without touching the table: add conversation_pk.
DROP INDEX messages_agent_ts;
CREATE INDEX messages_agent_ts ON messages (agent_id, kind, ts, sender, response_us, conversation_pk);
