-- migrate: no-transaction
--
-- 0004 (release 3): an index for the queue, GET /items?status=new, which
-- release 3 orders by priority, then id.
--
-- CREATE INDEX CONCURRENTLY builds the index while the API goes on writing,
-- but Postgres refuses to run it inside a transaction, hence the mark on the
-- first line: migrate.py runs the statements of this file one by one, then
-- records it. A build that fails halfway leaves an INVALID index behind, and
-- the file is not recorded; the DROP first makes the next run start clean.

DROP INDEX CONCURRENTLY IF EXISTS items_queue;
CREATE INDEX CONCURRENTLY items_queue ON items (status, priority DESC, id);
