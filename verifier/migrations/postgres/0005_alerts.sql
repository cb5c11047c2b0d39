-- The alert outbox (PostgreSQL; see sqlite/0005_alerts.sql): written in the transaction of the
-- result or activation that caused the alert, delivered from here with retries.

CREATE TABLE alerts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id        TEXT NOT NULL,
    at              TEXT NOT NULL,
    -- The Alertmanager-compatible webhook body, verbatim (what is signed and sent).
    payload         TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    -- Unix milliseconds of the next delivery attempt.
    next_attempt_ms BIGINT NOT NULL,
    delivered_at    TEXT,
    last_error      TEXT
);

CREATE INDEX alerts_due ON alerts (next_attempt_ms) WHERE delivered_at IS NULL;
