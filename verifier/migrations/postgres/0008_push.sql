-- Push mode (PostgreSQL; see sqlite/0008_push.sql): 1 = the agent sends its evidence, 0 = it is
-- pulled; and since when a push agent's evidence is overdue.
ALTER TABLE agents ADD COLUMN push BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN missed_at TEXT;
