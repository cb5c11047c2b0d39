-- API credentials by SHA-256 fingerprint of the client certificate, with their role
-- (PostgreSQL; see sqlite/0006_credentials.sql).
CREATE TABLE credentials (
    fingerprint  TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    issued_at    TEXT NOT NULL,
    revoked_at   TEXT
);
