-- The cluster policy objects in force (PostgreSQL; see sqlite/0010_cluster_policy.sql).
CREATE TABLE cluster_policy (
    name       TEXT PRIMARY KEY NOT NULL,
    hash       TEXT NOT NULL,
    source     TEXT NOT NULL,
    dir_hash   TEXT,
    changed_at TEXT NOT NULL
);
