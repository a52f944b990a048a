-- 5: a customer's erase finds their conversations without a scan of the agent's.
CREATE INDEX IF NOT EXISTS event_conversations_customer ON event_conversations (agent_id, customer_id, id);
