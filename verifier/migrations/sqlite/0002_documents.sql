-- Verified documents, stored once per content digest, and the documents each result judged:
-- what `palisade diff` compares between two stored attestations, and what an alert's diff is
-- computed from.

CREATE TABLE documents (
    digest  TEXT PRIMARY KEY NOT NULL,
    content BLOB NOT NULL
) STRICT;

CREATE TABLE result_documents (
    result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    digest    TEXT NOT NULL REFERENCES documents(digest),
    PRIMARY KEY (result_id, key)
) STRICT;

-- Semantic changes of documents since the agent's previous verified result (JSON), if any.
ALTER TABLE results ADD COLUMN changes TEXT;
