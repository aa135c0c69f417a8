-- DDBFS metadata schema, version 18: chunks that never held a byte are not
-- kept (docs/write_protocol.md, "Settling").
--
-- Until this version, settling the lease of a chunk that was never written
-- (a file created for writing and closed empty, as `touch` does through the
-- mount; a writer that died before its first piece) committed a new version
-- of it with no replica. Such a chunk counted as missing in `ddbfs status`,
-- and fsck called its (empty, intact) file lost. The settler now drops such
-- a chunk; this removes the ones left by earlier versions: length 0, no
-- replica row, no write lease. A chunk of length 0 reads as zeros either
-- way, so nothing a reader sees changes.

DELETE FROM ddbfs.chunks c
WHERE c.length = 0
  AND c.lease_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM ddbfs.replicas r WHERE r.chunk_id = c.id);
