-- DDBFS metadata schema, version 2: write leases and write generations
-- (docs/write_protocol.md).
--
-- A chunk being written has a lease: its holder (lease_id) is the only one
-- that may commit it, until lease_expires_ms (milliseconds since the Unix
-- epoch, the metaserver's clock). pending_version is the highest version
-- handed out for the chunk; every write generation gets its own, above both
-- the committed version and every earlier pending one, so that bytes of an
-- uncommitted or abandoned generation never carry a version that is or will
-- be committed for other bytes.

ALTER TABLE ddbfs.chunks
  ADD COLUMN pending_version  bigint NOT NULL DEFAULT 0 CHECK (pending_version >= 0),
  ADD COLUMN lease_id         bigint,
  ADD COLUMN lease_expires_ms bigint,
  ADD CONSTRAINT chunks_lease_complete CHECK ((lease_id IS NULL) = (lease_expires_ms IS NULL));

UPDATE ddbfs.chunks SET pending_version = version;

CREATE INDEX chunks_leased ON ddbfs.chunks (lease_expires_ms) WHERE lease_id IS NOT NULL;

CREATE SEQUENCE ddbfs.lease_ids START WITH 1;
COMMENT ON SEQUENCE ddbfs.lease_ids IS 'Write lease ids, never reused.';

COMMENT ON COLUMN ddbfs.chunks.pending_version IS
  'Highest version handed out to a writer (>= version); above version while a write generation is open or unsettled.';
COMMENT ON COLUMN ddbfs.chunks.lease_id IS
  'Write lease of the chunk''s current writer, or NULL when no write is open.';
COMMENT ON COLUMN ddbfs.chunks.lease_expires_ms IS
  'When the lease expires (ms since the Unix epoch); an expired lease is settled by the metaserver.';
