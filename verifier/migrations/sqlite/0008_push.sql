-- Push mode: agents that send their evidence themselves (1) instead of being pulled (0), and
-- when a push agent's evidence stopped arriving (its state is then `missed`, whatever its last
-- outcome was; cleared by the next stored result).
ALTER TABLE agents ADD COLUMN push INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN missed_at TEXT;
