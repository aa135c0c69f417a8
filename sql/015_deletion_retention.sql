-- DDBFS metadata schema, version 15: deletion retention (docs/backup.md).
--
-- A replica of a chunk that the metadata no longer has (its file was
-- deleted or truncated, or a server reports a chunk the metadata does not
-- know) is kept on its chunk server for --chunk-retention-s after its
-- deletion was queued, so that a restored metadata backup still finds the
-- chunks it references. Such a deletion is "held": gc_queue.held is true,
-- and the heartbeats hand it out only once queued_at is older than the
-- retention (or at once when the server is short of space, oldest first).
-- Other deletions (stale, corrupt, over-goal replicas of chunks the
-- metadata still has) are not held: a restored backup either finds another
-- replica of the same version (adopted when its server registers) or could
-- not use them (docs/backup.md, "What is held").

ALTER TABLE ddbfs.gc_queue
  ADD COLUMN held boolean NOT NULL DEFAULT false,
  ADD COLUMN bytes bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0);
COMMENT ON COLUMN ddbfs.gc_queue.held IS
  'The chunk is gone from the metadata: the replica is kept until queued_at is older than the '
  'metaserver''s --chunk-retention-s, so that a restored backup still finds it (docs/backup.md).';
COMMENT ON COLUMN ddbfs.gc_queue.bytes IS
  'The chunk''s length when its deletion was queued (0: not known, e.g. a replica reported by '
  'a chunk server that the metadata did not know); summed by ddbfs status.';

-- The heartbeats' two listings: deletions due now (not held), oldest first,
-- and held deletions whose retention passed, oldest first. Without them a
-- heartbeat would walk every held row of its server.
CREATE INDEX gc_queue_due ON ddbfs.gc_queue (server_id, queued_at, chunk_id) WHERE NOT held;
CREATE INDEX gc_queue_held ON ddbfs.gc_queue (server_id, queued_at, chunk_id) WHERE held;
