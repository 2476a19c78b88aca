-- 0003 (release 3, CONTRACT): every item has a priority.
--
-- This runs before the rollout, while release 2 still serves. Release 2
-- writes a priority on every INSERT, so NOT NULL never refuses it. Release 1
-- would leave priority out, but release 2's rollout replaced its last
-- replica. Should it come back anyway (a rollback two releases deep), the
-- DEFAULT fills the column for it and its INSERTs still succeed.
--
-- The first statement takes the table's ACCESS EXCLUSIVE lock, held until
-- this transaction commits: no row can be written between the backfill and
-- the constraint. That is fine for a small table. On a large one, split it
-- across releases instead (see docs/migrations.md): backfill in batches;
-- then ADD CONSTRAINT ... CHECK (priority IS NOT NULL) NOT VALID; then
-- VALIDATE CONSTRAINT (which lets writes go on); then SET NOT NULL, which
-- uses the valid constraint instead of scanning the table.

ALTER TABLE items ALTER COLUMN priority SET DEFAULT 0;
UPDATE items SET priority = 0 WHERE priority IS NULL;
ALTER TABLE items ALTER COLUMN priority SET NOT NULL;
