-- 0014: the sender in the index of a conversation's messages. The failure metrics
-- (`failures::facts`) and the conversation list's failure filters (`unanswered`, `abandoned`)
-- read every message of the conversations in range by (conversation_pk, ts, kind) and need
-- its sender: with the index on (conversation_pk, ts, kind) alone each message cost a lookup
-- of its row (which holds the content). With the sender in the index the read is the index's
-- alone (docs/benchmarks.md, *The failure metrics on SQLite*). The entries are a few bytes
-- longer; every query that used the index's prefix still does.

DROP INDEX messages_conversation;
CREATE INDEX messages_conversation ON messages (conversation_pk, ts, kind, sender);
