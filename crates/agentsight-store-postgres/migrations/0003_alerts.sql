-- 0003: alert rules and their firing episodes, notification targets, the SMTP settings, the log
-- of every send, and named leases (as SQLite's migration 0012).

CREATE TABLE alert_rules (
    id           BIGINT GENERATED ALWAYS AS IDENTITY (MAXVALUE 9007199254740991) PRIMARY KEY,
    agent_id     BIGINT NOT NULL REFERENCES agents (id),
    kind         TEXT NOT NULL,
    threshold    DOUBLE PRECISION NOT NULL,
    window_hours INTEGER NOT NULL,
    enabled      BOOLEAN NOT NULL,
    created_at   BIGINT NOT NULL
);

-- At most one open episode per rule: the unique index is the deduplication.
CREATE TABLE alert_events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY (MAXVALUE 9007199254740991) PRIMARY KEY,
    rule_id        BIGINT NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    agent_id       BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    threshold      DOUBLE PRECISION NOT NULL,
    fired_at       BIGINT NOT NULL,
    fired_value    DOUBLE PRECISION NOT NULL,
    resolved_at    BIGINT,
    resolved_value DOUBLE PRECISION
);
CREATE INDEX alert_events_rule ON alert_events (rule_id, id);
CREATE UNIQUE INDEX alert_events_open ON alert_events (rule_id) WHERE resolved_at IS NULL;

CREATE TABLE notify_targets (
    id         BIGINT GENERATED ALWAYS AS IDENTITY (MAXVALUE 9007199254740991) PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('webhook', 'email')),
    name       TEXT NOT NULL,
    address    TEXT NOT NULL,
    secret     TEXT,
    enabled    BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE smtp_settings (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    host       TEXT NOT NULL,
    port       INTEGER NOT NULL,
    security   TEXT NOT NULL,
    username   TEXT,
    password   TEXT,
    from_addr  TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE notify_sends (
    id              BIGINT GENERATED ALWAYS AS IDENTITY (MAXVALUE 9007199254740991) PRIMARY KEY,
    channel         TEXT NOT NULL,
    source          TEXT NOT NULL,
    target_id       BIGINT,
    alert_event_id  BIGINT,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    payload         TEXT NOT NULL,
    dedupe_key      TEXT UNIQUE,
    created_at      BIGINT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at BIGINT,
    last_attempt_at BIGINT
);
CREATE INDEX notify_sends_due ON notify_sends (status, next_attempt_at);

-- Named leases: every node tries to take one each round; the lease's holder does the work.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
