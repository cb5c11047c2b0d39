-- The cluster policy objects in force (`template/<name>`, `constraints`): which stored version
-- (`policies.hash`) is current, whether the directory or the API made it current, and the hash
-- the directory had at its last import — so a restart keeps what the API set unless the
-- directory itself changed since (then the directory wins).
CREATE TABLE cluster_policy (
    name       TEXT PRIMARY KEY NOT NULL,
    hash       TEXT NOT NULL,
    source     TEXT NOT NULL,
    dir_hash   TEXT,
    changed_at TEXT NOT NULL
) STRICT;
