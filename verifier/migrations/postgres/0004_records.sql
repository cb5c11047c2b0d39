-- Durable attestation records, hash-chained per agent and signed (PostgreSQL; see
-- sqlite/0004_records.sql). No foreign keys: records outlive the results and agents they name.

CREATE TABLE records (
    agent_id  TEXT NOT NULL,
    seq       BIGINT NOT NULL CHECK (seq >= 1),
    result_id BIGINT NOT NULL,
    -- The canonical body, verbatim: hash and verify these bytes.
    body      TEXT NOT NULL,
    hash      TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (agent_id, seq)
);

-- Every policy that judged a result, by the hash its results name.
CREATE TABLE policies (
    hash     TEXT PRIMARY KEY NOT NULL,
    name     TEXT NOT NULL,
    version  BIGINT NOT NULL,
    modules  TEXT NOT NULL,
    added_at TEXT NOT NULL
);
