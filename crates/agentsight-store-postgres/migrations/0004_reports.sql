-- 0004: scheduled client reports: each agent's schedules and the record of each period's send
-- (as SQLite's migration 0013).

CREATE TABLE report_schedules (
    id           BIGINT GENERATED ALWAYS AS IDENTITY (MAXVALUE 9007199254740991) PRIMARY KEY,
    agent_id     BIGINT NOT NULL REFERENCES agents (id),
    cadence      TEXT NOT NULL CHECK (cadence IN ('weekly', 'monthly')),
    day          BIGINT NOT NULL,
    hour         BIGINT NOT NULL CHECK (hour BETWEEN 0 AND 23),
    time_zone    TEXT NOT NULL,
    recipients   TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL,
    share_id     BIGINT,
    share_token  TEXT,
    active_since BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX report_schedules_agent ON report_schedules (agent_id, id);

-- One row per (schedule, period key): the key is what makes a period go out once.
CREATE TABLE report_sends (
    schedule_id BIGINT NOT NULL REFERENCES report_schedules (id) ON DELETE CASCADE,
    period_key  TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
    attempts    BIGINT NOT NULL,
    claimed_at  BIGINT NOT NULL,
    sent_at     BIGINT,
    error       TEXT,
    PRIMARY KEY (schedule_id, period_key)
);
CREATE INDEX report_sends_claimed ON report_sends (schedule_id, claimed_at);
