-- 0003: dashboard users, sessions, share links and agent branding.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at    INTEGER NOT NULL
);

-- The agents a viewer may see.
CREATE TABLE user_agents (
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    agent_id INTEGER NOT NULL REFERENCES agents(id),
    PRIMARY KEY (user_id, agent_id)
) WITHOUT ROWID;

-- Only the SHA-256 of a session token is stored.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash   BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    refreshed_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE shares (
    id           INTEGER PRIMARY KEY,
    agent_id     INTEGER NOT NULL REFERENCES agents(id),
    label        TEXT,
    token_prefix TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX shares_agent ON shares (agent_id);

CREATE TABLE agent_branding (
    agent_id     INTEGER PRIMARY KEY REFERENCES agents(id),
    display_name TEXT,
    accent_color TEXT,
    logo_mime    TEXT,
    logo         BLOB,
    -- Bumped with every new logo, so its URL can be cached.
    logo_version INTEGER NOT NULL DEFAULT 0
);
