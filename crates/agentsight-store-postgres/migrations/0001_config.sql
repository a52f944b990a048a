-- 0001: the configuration tables (agents, environments, keys, users, sessions, share links,
-- branding), as in SQLite's 0001 and 0003. Times are microseconds since the Unix epoch (UTC).
-- Ids stay below 2^53, so JavaScript reads them exactly.
CREATE TABLE agents (
    id               BIGINT GENERATED ALWAYS AS IDENTITY (MAXVALUE 9007199254740991) PRIMARY KEY,
    name             TEXT NOT NULL CONSTRAINT agents_name_unique UNIQUE,
    created_at       BIGINT NOT NULL,
    -- Action names counted as human escalation; NULL = the default list.
    escalation_tools TEXT[]
);

CREATE TABLE environments (
    id            BIGINT GENERATED ALWAYS AS IDENTITY (MAXVALUE 9007199254740991) PRIMARY KEY,
    agent_id      BIGINT NOT NULL REFERENCES agents(id),
    slug          TEXT NOT NULL,
    name          TEXT NOT NULL,
    is_production BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL,
    CONSTRAINT environments_slug_unique UNIQUE (agent_id, slug)
);

CREATE TABLE api_keys (
    id          BIGINT GENERATED ALWAYS AS IDENTITY (MAXVALUE 9007199254740991) PRIMARY KEY,
    agent_id    BIGINT NOT NULL REFERENCES agents(id),
    prefix      TEXT NOT NULL,
    -- SHA-256 of the key.
    hash        BYTEA NOT NULL CONSTRAINT api_keys_hash_unique UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('write', 'read')),
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX api_keys_agent ON api_keys (agent_id);

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY (MAXVALUE 9007199254740991) PRIMARY KEY,
    email         TEXT NOT NULL CONSTRAINT users_email_unique UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at    BIGINT NOT NULL
);

-- The agents a viewer may see.
CREATE TABLE user_agents (
    user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    agent_id BIGINT NOT NULL REFERENCES agents(id),
    PRIMARY KEY (user_id, agent_id)
);

-- Only the SHA-256 of a session token is stored.
CREATE TABLE sessions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY (MAXVALUE 9007199254740991) PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash   BYTEA NOT NULL CONSTRAINT sessions_token_hash_unique UNIQUE,
    created_at   BIGINT NOT NULL,
    refreshed_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE shares (
    id           BIGINT GENERATED ALWAYS AS IDENTITY (MAXVALUE 9007199254740991) PRIMARY KEY,
    agent_id     BIGINT NOT NULL REFERENCES agents(id),
    label        TEXT,
    token_prefix TEXT NOT NULL,
    token_hash   BYTEA NOT NULL CONSTRAINT shares_token_hash_unique UNIQUE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX shares_agent ON shares (agent_id);

CREATE TABLE agent_branding (
    agent_id     BIGINT PRIMARY KEY REFERENCES agents(id),
    display_name TEXT,
    accent_color TEXT,
    logo_mime    TEXT,
    logo         BYTEA,
    -- Bumped with every new logo, so its URL can be cached.
    logo_version BIGINT NOT NULL DEFAULT 0
);
