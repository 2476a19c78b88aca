-- 0002 (release 2, EXPAND): items get a priority.
--
-- This runs before the rollout, so release-1 replicas serve against it until
-- each is replaced, and again after a rollback to release 1. It is safe for
-- them because it only adds:
--
-- * the column is nullable and has no default: release 1's INSERT, which
--   names only `name`, still succeeds and leaves priority NULL; its SELECTs
--   name their columns and never see this one;
-- * adding a nullable column without a default changes only the catalog: no
--   table rewrite, and the ACCESS EXCLUSIVE lock it takes is held for
--   milliseconds (lock_timeout bounds the wait for it behind long queries).
--
-- Release 2's code reads a NULL priority as 0. Release 3 backfills the NULLs
-- and adds NOT NULL: that contract step waits until no release-1 replica is
-- left, which is what "one release later" guarantees.

ALTER TABLE items ADD COLUMN priority integer;
