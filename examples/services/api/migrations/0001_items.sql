-- 0001: the items table, as release 1 of the API uses it.
--
-- Before migrations existed the API created this table itself when it
-- started, so a database that already ran the example has it. IF NOT EXISTS
-- makes this first migration adopt such a table instead of failing on it.
-- Later migrations never need that: migrate.py applies each one exactly once.

CREATE TABLE IF NOT EXISTS items (
    id           bigserial   PRIMARY KEY,
    name         text        NOT NULL,
    status       text        NOT NULL DEFAULT 'new',
    created_at   timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);

CREATE INDEX IF NOT EXISTS items_status ON items (status);
