-- Durable attestation records: one per result, hash-chained per agent and signed by the
-- verifier's key (verifier/src/audit.rs). No foreign keys: records outlive the results and
-- agents they name, so removing an agent never erases its audit trail.

CREATE TABLE records (
    agent_id  TEXT NOT NULL,
    seq       INTEGER NOT NULL CHECK (seq >= 1),
    result_id INTEGER NOT NULL,
    -- The canonical body, verbatim: hash and verify these bytes.
    body      TEXT NOT NULL,
    hash      TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (agent_id, seq)
) STRICT;

-- Every policy that judged a result, by the hash its results name, so that an export can carry
-- it and an auditor can re-evaluate it.
CREATE TABLE policies (
    hash     TEXT PRIMARY KEY NOT NULL,
    name     TEXT NOT NULL,
    version  INTEGER NOT NULL,
    modules  TEXT NOT NULL,
    added_at TEXT NOT NULL
) STRICT;
