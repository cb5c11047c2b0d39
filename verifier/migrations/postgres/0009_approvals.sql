-- Operator approval (PostgreSQL; see sqlite/0009_approvals.sql): with `require_approval`, an
-- agent that proved its TPM waits (1) for
-- `palisade agents enroll` before it is monitored. An approval may come before the agent
-- registers or after; it may pin the EK (SHA-256 fingerprint of its public area), and its
-- labels override the ones the agent claims.
ALTER TABLE agents ADD COLUMN awaiting_approval BIGINT NOT NULL DEFAULT 0;

CREATE TABLE approvals (
    agent_id       TEXT PRIMARY KEY NOT NULL,
    ek_fingerprint TEXT,
    labels         TEXT NOT NULL DEFAULT '{}',
    approved_by    TEXT NOT NULL,
    approved_at    TEXT NOT NULL
);
