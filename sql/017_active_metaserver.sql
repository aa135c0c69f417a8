-- DDBFS metadata schema, version 17: the active metaserver (docs/ha.md).
--
-- Every metaserver started against this database competes for one
-- session-level advisory lock (pg_try_advisory_lock(6800682566612)); the one
-- holding it is the active metaserver, the others are standbys. The lock
-- says who is active now; this one row says since when, and is the fencing
-- token of everything committed outside the lock's own session: the new
-- active metaserver increments `epoch` before it reads anything, and a
-- transaction of the active one that commits on another connection (a bulk
-- tag change) first reads the row FOR SHARE with the epoch it took, so that
-- it either commits before the increment (and the new one loads what it
-- wrote) or finds another epoch and rolls back.

CREATE TABLE ddbfs.active_metaserver (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  epoch bigint NOT NULL DEFAULT 0,
  holder text NOT NULL DEFAULT '',
  since timestamptz NOT NULL DEFAULT now(),
  released boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE ddbfs.active_metaserver IS
  'The active metaserver (docs/ha.md): one row. epoch counts the times a metaserver became '
  'active (the fencing token); holder and since name the latest one; released is true once it '
  'stopped cleanly (its successor then starts serving without waiting for it to notice).';
COMMENT ON COLUMN ddbfs.active_metaserver.epoch IS
  'Incremented by each metaserver that takes the active lock, before it reads anything.';
COMMENT ON COLUMN ddbfs.active_metaserver.holder IS
  'host, listen address and process id of the metaserver that took the lock last.';
COMMENT ON COLUMN ddbfs.active_metaserver.released IS
  'false while that metaserver may still be running; true after its clean stop.';

INSERT INTO ddbfs.active_metaserver DEFAULT VALUES;
