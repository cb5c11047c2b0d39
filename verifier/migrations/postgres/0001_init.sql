-- palisade verifier schema, version 1 (PostgreSQL; the same tables as sqlite/0001_init.sql).

CREATE TABLE agents (
    id                TEXT PRIMARY KEY NOT NULL,
    ek_public         BYTEA NOT NULL,
    ek_certificate    TEXT,
    ak_public         BYTEA NOT NULL,
    contact           TEXT NOT NULL,
    tls_certificate   TEXT NOT NULL,
    pcr               BIGINT NOT NULL,
    labels            TEXT NOT NULL DEFAULT '{}',
    -- registered: challenge issued, never activated; active: monitored.
    status            TEXT NOT NULL CHECK (status IN ('registered', 'active')),
    -- A registration awaiting activation (JSON of RegisterRequest) and its challenge secret.
    pending           TEXT,
    challenge_secret  BYTEA,
    challenge_expires TEXT,
    -- The verifier's memory between attestations (JSON of VerifiedState).
    verified_state    TEXT NOT NULL DEFAULT '{}',
    last_outcome      TEXT NOT NULL DEFAULT 'pending' CHECK (last_outcome IN ('pending', 'pass', 'fail', 'error')),
    last_result_id    BIGINT,
    registered_at     TEXT NOT NULL,
    activated_at      TEXT
);

CREATE TABLE results (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    at           TEXT NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'error')),
    reasons      TEXT NOT NULL DEFAULT '[]',
    error        TEXT,
    policy       TEXT,
    duration_us  BIGINT NOT NULL
);

CREATE INDEX results_by_agent ON results (agent_id, id);
