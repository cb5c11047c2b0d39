-- API credentials: client certificates issued by the verifier's CA, by SHA-256 fingerprint of
-- the DER certificate, with the role they carry. A certificate from the CA that is not listed
-- here (the verifier's own pull certificate, one from before roles existed) has no role.
CREATE TABLE credentials (
    fingerprint  TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    issued_at    TEXT NOT NULL,
    revoked_at   TEXT
) STRICT;
