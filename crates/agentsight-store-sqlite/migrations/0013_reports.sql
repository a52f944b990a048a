-- 0013: scheduled client reports: each agent's schedules and the record of each period's send.

-- When and to whom: `cadence` weekly (day = ISO weekday 1–7) or monthly (day = 1–31, the last
-- day of a shorter month), the local `hour` in `time_zone`; `recipients` a JSON array of
-- addresses. `share_id`/`share_token`: the share link the mails link to. Sends scheduled
-- before `active_since` are not owed.
CREATE TABLE report_schedules (
    id           INTEGER PRIMARY KEY,
    agent_id     INTEGER NOT NULL REFERENCES agents(id),
    cadence      TEXT NOT NULL CHECK (cadence IN ('weekly', 'monthly')),
    day          INTEGER NOT NULL,
    hour         INTEGER NOT NULL CHECK (hour BETWEEN 0 AND 23),
    time_zone    TEXT NOT NULL,
    recipients   TEXT NOT NULL,
    enabled      INTEGER NOT NULL,
    share_id     INTEGER,
    share_token  TEXT,
    active_since INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX report_schedules_agent ON report_schedules (agent_id, id);

-- One row per (schedule, period key such as 2026-W49 or 2026-11): the key is what makes a
-- period go out once, whatever restarts. `state` sending (taken at `claimed_at`), sent or
-- failed (`error`).
CREATE TABLE report_sends (
    schedule_id INTEGER NOT NULL REFERENCES report_schedules(id) ON DELETE CASCADE,
    period_key  TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
    attempts    INTEGER NOT NULL,
    claimed_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    error       TEXT,
    PRIMARY KEY (schedule_id, period_key)
);
CREATE INDEX report_sends_claimed ON report_sends (schedule_id, claimed_at);
