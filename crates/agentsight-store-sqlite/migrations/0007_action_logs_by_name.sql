-- 0007: an action's logs in time order. `GET /api/actions/{id}/logs/` reads an action's latest
-- logs (`agent_id`, `action_name`, newest `ts` first); with the index on (agent_id, action_name)
-- alone, SQLite walked every log of the agent in time order until the page was full, a scan of
-- them all for an action seldom used. With `ts` in the index (and the row id after it, as in
-- every index) the page is the index's last entries for that name. The entries are 8 bytes
-- longer and still land at the end of their name's range.

DROP INDEX action_logs_agent_name;
CREATE INDEX action_logs_agent_name ON action_logs (agent_id, action_name, ts);
