-- 0002: per-agent retention and the audit log of removals (retention, a customer's erase).

-- Days an agent's conversations are kept after their last event; NULL keeps them for ever.
ALTER TABLE agents ADD COLUMN retention_days INTEGER;

-- One row per removal: when, which agent, why, who asked (`user:<id>`, `key:<id>`, `cli`,
-- `retention`) and how much went. Never the customer's id, nor any digest of it.
CREATE TABLE erasures (
    id            BIGINT GENERATED ALWAYS AS IDENTITY (MAXVALUE 9007199254740991) PRIMARY KEY,
    at            BIGINT NOT NULL,
    agent_id      BIGINT NOT NULL REFERENCES agents (id),
    kind          TEXT NOT NULL CHECK (kind IN ('retention', 'erase')),
    actor         TEXT NOT NULL,
    conversations BIGINT NOT NULL,
    messages      BIGINT NOT NULL
);
CREATE INDEX erasures_agent ON erasures (agent_id, id);
