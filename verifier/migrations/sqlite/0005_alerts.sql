-- The alert outbox: an alert is written in the same transaction as the result (or activation)
-- that caused it, and delivered from here with retries, so a verifier restart loses none.

CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id        TEXT NOT NULL,
    at              TEXT NOT NULL,
    -- The Alertmanager-compatible webhook body, verbatim (what is signed and sent).
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- Unix milliseconds of the next delivery attempt.
    next_attempt_ms INTEGER NOT NULL,
    delivered_at    TEXT,
    last_error      TEXT
) STRICT;

CREATE INDEX alerts_due ON alerts (next_attempt_ms) WHERE delivered_at IS NULL;
