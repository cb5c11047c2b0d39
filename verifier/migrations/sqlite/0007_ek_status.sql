-- The outcome of checking an agent's EK certificate at enrolment (`ek.rs`): `verified: …` or
-- `unverified: <why>`. Agents enrolled before this check existed say so.
ALTER TABLE agents ADD COLUMN ek_status TEXT NOT NULL
    DEFAULT 'unverified: enrolled before EK certificates were checked';
