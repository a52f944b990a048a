-- 0012: alert rules and their firing episodes, notification targets, the SMTP settings, the log
-- of every send, and named leases (docs/operations.md, *Alerts and notifications*).

CREATE TABLE alert_rules (
    id           INTEGER PRIMARY KEY,
    agent_id     INTEGER NOT NULL REFERENCES agents(id),
    kind         TEXT NOT NULL,
    threshold    REAL NOT NULL,
    window_hours INTEGER NOT NULL,
    enabled      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);

-- One row per firing episode; open while resolved_at IS NULL, and at most one open per rule
-- (the unique index is the deduplication: a rule still firing cannot fire again).
CREATE TABLE alert_events (
    id             INTEGER PRIMARY KEY,
    rule_id        INTEGER NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
    agent_id       INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    threshold      REAL NOT NULL,
    fired_at       INTEGER NOT NULL,
    fired_value    REAL NOT NULL,
    resolved_at    INTEGER,
    resolved_value REAL
);
CREATE INDEX alert_events_rule ON alert_events (rule_id, id);
CREATE UNIQUE INDEX alert_events_open ON alert_events (rule_id) WHERE resolved_at IS NULL;

-- Webhooks (address: the URL, secret: the signing secret as the server stored it) and e-mail
-- addresses.
CREATE TABLE notify_targets (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('webhook', 'email')),
    name       TEXT NOT NULL,
    address    TEXT NOT NULL,
    secret     TEXT,
    enabled    INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- At most one row (id = 1).
CREATE TABLE smtp_settings (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    host       TEXT NOT NULL,
    port       INTEGER NOT NULL,
    security   TEXT NOT NULL,
    username   TEXT,
    password   TEXT,
    from_addr  TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Every send: what, to whom, and its attempts' outcome. A dedupe_key is recorded once.
CREATE TABLE notify_sends (
    id              INTEGER PRIMARY KEY,
    channel         TEXT NOT NULL,
    source          TEXT NOT NULL,
    target_id       INTEGER,
    alert_event_id  INTEGER,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    payload         TEXT NOT NULL,
    dedupe_key      TEXT UNIQUE,
    created_at      INTEGER NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at INTEGER,
    last_attempt_at INTEGER
);
CREATE INDEX notify_sends_due ON notify_sends (status, next_attempt_at);

-- Named leases: the node whose lease runs does the scheduled work (alerts, retries, reports).
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
