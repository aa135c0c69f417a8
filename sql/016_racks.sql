-- DDBFS metadata schema, version 16: rack labels of chunk servers
-- (docs/repair.md, "Placement by host and rack").
--
-- A chunk server started with --rack NAME registers it; placement puts the
-- replicas of a chunk on distinct host labels first, then on distinct racks,
-- and the repair moves a replica off a rack (or host) that holds two of them
-- while another has room. '' means no rack: that server's host counts as a
-- rack of its own.

ALTER TABLE ddbfs.servers ADD COLUMN rack text NOT NULL DEFAULT '';
COMMENT ON COLUMN ddbfs.servers.rack IS
  'Rack label given with ddbfs-chunkserver --rack ('''': none; the host is then its own rack).';

-- The same view as in 012_views.sql, with the rack as its last column.
CREATE OR REPLACE VIEW ddbfs.server_usage AS
SELECT s.id AS server,
       s.uuid,
       s.host || ':' || s.port AS address,
       s.label,
       coalesce(s.last_heartbeat > now() - interval '30 seconds', false) AS alive,
       s.last_heartbeat,
       s.capacity_bytes,
       s.used_bytes,
       s.capacity_bytes - s.used_bytes AS free_bytes,
       round(100.0 * s.used_bytes / nullif(s.capacity_bytes, 0), 1) AS used_percent,
       s.chunk_count AS reported_chunks,
       (SELECT count(*) FROM ddbfs.replicas rp WHERE rp.server_id = s.id) AS replicas,
       (SELECT count(*) FROM ddbfs.gc_queue g WHERE g.server_id = s.id) AS queued_deletions,
       s.rack
  FROM ddbfs.servers s;

COMMENT ON COLUMN ddbfs.server_usage.rack IS
  'Rack label used for placement after the host label ('''': none).';
