-- Attachment bytes, shared by every node (blobs.rs): a blob row per stored file and its bytes
-- in chunks of at most 1 MiB (a 20 MiB file is 20 rows, never one huge value).
CREATE TABLE event_blobs (
    id         BIGSERIAL PRIMARY KEY,
    agent_id   BIGINT NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE event_blob_chunks (
    blob_id BIGINT NOT NULL REFERENCES event_blobs (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    data    BYTEA NOT NULL,
    PRIMARY KEY (blob_id, seq)
);

-- `agentsight migrate` (import.rs): how far the copy from a single box got, per step and agent
-- (the highest source id copied), so a re-run resumes there.
CREATE TABLE event_import_progress (
    step       TEXT NOT NULL,
    agent_id   BIGINT NOT NULL,
    high_water BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (step, agent_id)
);
