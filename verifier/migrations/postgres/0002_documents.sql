-- Verified documents, stored once per content digest, and the documents each result judged
-- (PostgreSQL; see sqlite/0002_documents.sql).

CREATE TABLE documents (
    digest  TEXT PRIMARY KEY NOT NULL,
    content BYTEA NOT NULL
);

CREATE TABLE result_documents (
    result_id BIGINT NOT NULL REFERENCES results(id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    digest    TEXT NOT NULL REFERENCES documents(digest),
    PRIMARY KEY (result_id, key)
);

-- Semantic changes of documents since the agent's previous verified result (JSON), if any.
ALTER TABLE results ADD COLUMN changes TEXT;
