-- 0011: per-agent retention and the audit log of removals (retention, a customer's erase).

-- Days an agent's conversations are kept after their last event; NULL keeps them for ever.
ALTER TABLE agents ADD COLUMN retention_days INTEGER;

-- One row per removal: when, which agent, why, who asked (`user:<id>`, `key:<id>`, `cli`,
-- `retention`) and how much went. Never the customer's id, nor any digest of it.
CREATE TABLE erasures (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    agent_id      INTEGER NOT NULL REFERENCES agents(id),
    kind          TEXT NOT NULL CHECK (kind IN ('retention', 'erase')),
    actor         TEXT NOT NULL,
    conversations INTEGER NOT NULL,
    messages      INTEGER NOT NULL
);
CREATE INDEX erasures_agent ON erasures (agent_id, id);

-- A removal finds a conversation's votes, and a customer's conversations, without a scan.
CREATE INDEX feedback_votes_conversation ON feedback_votes (conversation_pk);
CREATE INDEX conversations_agent_customer ON conversations (agent_id, customer_id);
