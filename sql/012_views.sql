-- DDBFS metadata schema, version 12: read-only views for analysts and
-- operators (docs/sql.md). They are the only thing the role ddbfs_reader may
-- read (sql/roles.sql, docs/database_roles.md): the views run with the
-- rights of their owner (ddbfs), so the reader needs no right on the tables.
--
-- The path of an inode is its first name: the lowest (parent, name) entry
-- pointing at it, then the same for that directory, up to the root (inode 1,
-- which has no entry); the same choice as the query engine's
-- (metaserver/store/query_store.cc). A directory has exactly one entry, a
-- file one per hard link. An inode without a name (an orphan: unlinked while
-- a client still has it open) has no path. The walk is a recursive query
-- per row, an index probe per level: a few microseconds per document and
-- directory level, so reading a whole view of a large namespace takes time
-- (a minute or more for tens of millions of documents). These views are for
-- people, not for the metaserver.

-- Regular files (inode type 1) that have a name.
CREATE VIEW ddbfs.documents AS
SELECT i.id AS inode,
       w.path,
       w.name,
       i.size,
       timestamptz 'epoch' + (i.mtime_ns / 1000) * interval '1 microsecond' AS mtime,
       NULL::bytea AS sha256,
       ARRAY(SELECT t.name || CASE WHEN dt.has_value THEN '=' || dt.value ELSE '' END
               FROM ddbfs.doc_tags dt
               JOIN ddbfs.tags t ON t.id = dt.tag_id
              WHERE dt.inode = i.id
              ORDER BY t.name, dt.has_value, dt.value) AS tags
  FROM ddbfs.inodes i
 CROSS JOIN LATERAL (
   WITH RECURSIVE up(id, name, depth) AS (
     (SELECT d.parent, d.name, 0
        FROM ddbfs.dentries d
       WHERE d.inode = i.id
       ORDER BY d.parent, d.name
       LIMIT 1)
     UNION ALL
     SELECT e.parent, e.name, up.depth + 1
       FROM up
      CROSS JOIN LATERAL (SELECT d.parent, d.name
                            FROM ddbfs.dentries d
                           WHERE d.inode = up.id
                           ORDER BY d.parent, d.name
                           LIMIT 1) e
      WHERE up.depth < 2048)
   SELECT '/' || string_agg(up.name, '/' ORDER BY up.depth DESC) AS path,
          min(up.name) FILTER (WHERE up.depth = 0) AS name,
          coalesce(bool_or(up.id = 1), false) AS rooted
     FROM up) w
 WHERE i.type = 1 AND w.rooted;

COMMENT ON VIEW ddbfs.documents IS
  'Every document (regular file with a name): one row per file, hard links included once, under '
  'its first name (docs/sql.md).';
COMMENT ON COLUMN ddbfs.documents.inode IS 'Inode number (ddbfs info shows it).';
COMMENT ON COLUMN ddbfs.documents.path IS
  'Absolute path of the first name (lowest parent, then name, at every level); a hard-linked '
  'file has other names too.';
COMMENT ON COLUMN ddbfs.documents.name IS 'Last component of path.';
COMMENT ON COLUMN ddbfs.documents.size IS 'Size in bytes.';
COMMENT ON COLUMN ddbfs.documents.mtime IS 'Modification time (microseconds).';
COMMENT ON COLUMN ddbfs.documents.sha256 IS
  'Content hash of the document (docs/tags.md, "Content hash"): always NULL for now; a later '
  'migration fills it.';
COMMENT ON COLUMN ddbfs.documents.tags IS
  'Tags as text, "name" or "name=value", sorted bytewise; empty array when none.';

-- One row per tag on a document.
CREATE VIEW ddbfs.document_tags AS
SELECT d.inode,
       d.path,
       t.name AS tag,
       CASE WHEN dt.has_value THEN dt.value END AS value
  FROM ddbfs.doc_tags dt
  JOIN ddbfs.tags t ON t.id = dt.tag_id
  JOIN ddbfs.documents d ON d.inode = dt.inode;

COMMENT ON VIEW ddbfs.document_tags IS
  'One row per tag of a document (ddbfs.documents); a name with several values gives several '
  'rows (docs/sql.md).';
COMMENT ON COLUMN ddbfs.document_tags.inode IS 'Inode of the document.';
COMMENT ON COLUMN ddbfs.document_tags.path IS 'Path of the document (as in ddbfs.documents).';
COMMENT ON COLUMN ddbfs.document_tags.tag IS 'Tag name.';
COMMENT ON COLUMN ddbfs.document_tags.value IS
  'The value; NULL for a plain tag (a name alone), '''' for an empty value.';

-- Per tag name. A document is one that ddbfs.documents lists: a regular
-- file with at least one name (a name always leads to the root). No path
-- walk here.
CREATE VIEW ddbfs.tag_stats AS
SELECT t.name AS tag,
       count(x.inode) AS documents,
       coalesce(sum(x.size), 0) AS bytes
  FROM ddbfs.tags t
  LEFT JOIN (SELECT DISTINCT dt.tag_id, i.id AS inode, i.size
               FROM ddbfs.doc_tags dt
               JOIN ddbfs.inodes i ON i.id = dt.inode
              WHERE i.type = 1
                AND EXISTS (SELECT 1 FROM ddbfs.dentries n WHERE n.inode = i.id)) x
    ON x.tag_id = t.id
 GROUP BY t.id, t.name;

COMMENT ON VIEW ddbfs.tag_stats IS
  'Per tag name: how many documents carry it and their total size; names no document carries '
  'any more show 0 (docs/sql.md).';
COMMENT ON COLUMN ddbfs.tag_stats.tag IS 'Tag name.';
COMMENT ON COLUMN ddbfs.tag_stats.documents IS
  'Documents carrying the name, with or without values (each document once).';
COMMENT ON COLUMN ddbfs.tag_stats.bytes IS
  'Sum of the sizes of those documents (each document once).';

-- Replica health per chunk. A server counts as alive while the last
-- heartbeat the metaserver wrote for it is under 30 s old: the metaserver
-- writes a heartbeat at most every 10 s and chunk servers send one every
-- heartbeat timeout / 4 (2.5 s by default), so a live server is under 13 s
-- and a server dead for 30 s is no longer counted. The metaserver's own
-- judgement (ddbfs status) is kept in memory; this is its estimate from SQL.
CREATE VIEW ddbfs.chunk_health AS
SELECT c.id AS chunk,
       c.inode,
       c.idx,
       w.path,
       i.goal,
       c.version,
       c.lease_id IS NOT NULL AS writing,
       r.replicas,
       r.current_replicas,
       r.live_replicas
  FROM ddbfs.chunks c
  JOIN ddbfs.inodes i ON i.id = c.inode
 CROSS JOIN LATERAL (
   WITH RECURSIVE up(id, name, depth) AS (
     (SELECT d.parent, d.name, 0
        FROM ddbfs.dentries d
       WHERE d.inode = c.inode
       ORDER BY d.parent, d.name
       LIMIT 1)
     UNION ALL
     SELECT e.parent, e.name, up.depth + 1
       FROM up
      CROSS JOIN LATERAL (SELECT d.parent, d.name
                            FROM ddbfs.dentries d
                           WHERE d.inode = up.id
                           ORDER BY d.parent, d.name
                           LIMIT 1) e
      WHERE up.depth < 2048)
   SELECT CASE WHEN bool_or(up.id = 1)
               THEN '/' || string_agg(up.name, '/' ORDER BY up.depth DESC) END AS path
     FROM up) w
 CROSS JOIN LATERAL (
   SELECT count(*) AS replicas,
          count(*) FILTER (WHERE rp.version = c.version) AS current_replicas,
          count(*) FILTER (WHERE rp.version = c.version
                             AND s.last_heartbeat > now() - interval '30 seconds') AS live_replicas
     FROM ddbfs.replicas rp
     JOIN ddbfs.servers s ON s.id = rp.server_id
    WHERE rp.chunk_id = c.id) r;

COMMENT ON VIEW ddbfs.chunk_health IS
  'Every chunk with its file''s goal and how many replicas hold its committed version on live '
  'servers; live_replicas < goal is under-replicated (docs/sql.md).';
COMMENT ON COLUMN ddbfs.chunk_health.chunk IS 'Chunk id (the name of its replica files).';
COMMENT ON COLUMN ddbfs.chunk_health.inode IS 'Inode of the file the chunk belongs to.';
COMMENT ON COLUMN ddbfs.chunk_health.idx IS
  'Index of the chunk in the file: bytes [idx * 64 MiB, (idx + 1) * 64 MiB).';
COMMENT ON COLUMN ddbfs.chunk_health.path IS
  'Path of the file (first name, as in ddbfs.documents); NULL for an orphan (no name left, '
  'still open by a client).';
COMMENT ON COLUMN ddbfs.chunk_health.goal IS 'Replicas wanted: the goal of the file.';
COMMENT ON COLUMN ddbfs.chunk_health.version IS 'Committed version of the chunk.';
COMMENT ON COLUMN ddbfs.chunk_health.writing IS
  'A write lease is open: replicas may be above the committed version until it commits.';
COMMENT ON COLUMN ddbfs.chunk_health.replicas IS 'Replica rows, whatever their version or server.';
COMMENT ON COLUMN ddbfs.chunk_health.current_replicas IS
  'Replicas holding the committed version (others are stale).';
COMMENT ON COLUMN ddbfs.chunk_health.live_replicas IS
  'Replicas holding the committed version on a server alive by ddbfs.server_usage.alive.';

-- Per chunk server; alive as in chunk_health.
CREATE VIEW ddbfs.server_usage AS
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
       (SELECT count(*) FROM ddbfs.gc_queue g WHERE g.server_id = s.id) AS queued_deletions
  FROM ddbfs.servers s;

COMMENT ON VIEW ddbfs.server_usage IS
  'Every chunk server ever registered: address, liveness, space as last reported, replicas '
  '(docs/sql.md).';
COMMENT ON COLUMN ddbfs.server_usage.server IS 'Server id (ddbfs status shows it).';
COMMENT ON COLUMN ddbfs.server_usage.uuid IS 'Identity kept in the server''s data folder.';
COMMENT ON COLUMN ddbfs.server_usage.address IS 'host:port it registered with.';
COMMENT ON COLUMN ddbfs.server_usage.label IS 'Host label used for placement.';
COMMENT ON COLUMN ddbfs.server_usage.alive IS
  'Last heartbeat written by the metaserver under 30 s ago (it writes at most one per 10 s); an '
  'estimate: ddbfs status gives the metaserver''s own view.';
COMMENT ON COLUMN ddbfs.server_usage.last_heartbeat IS
  'Last heartbeat or registration the metaserver wrote down (at most every 10 s).';
COMMENT ON COLUMN ddbfs.server_usage.capacity_bytes IS 'Capacity as last reported, bytes.';
COMMENT ON COLUMN ddbfs.server_usage.used_bytes IS 'Space used as last reported, bytes.';
COMMENT ON COLUMN ddbfs.server_usage.free_bytes IS 'capacity_bytes - used_bytes.';
COMMENT ON COLUMN ddbfs.server_usage.used_percent IS
  'used_bytes as a percentage of capacity_bytes; NULL when the capacity is 0.';
COMMENT ON COLUMN ddbfs.server_usage.reported_chunks IS 'Chunk files the server last reported.';
COMMENT ON COLUMN ddbfs.server_usage.replicas IS 'Replica rows of the metadata on this server.';
COMMENT ON COLUMN ddbfs.server_usage.queued_deletions IS
  'Replicas queued for deletion on this server (ddbfs.gc_queue).';

-- The analysts' role (made by the admin step sql/roles.sql, absent from a
-- database nobody ran it on) reads these views and no table: a database
-- where it read every table of the schema (sql/roles.sql before this
-- migration) is brought to that here too. sql/roles.sql does the same at
-- every run.
DO $$
BEGIN
  IF to_regrole('ddbfs_reader') IS NULL THEN
    RETURN;
  END IF;
  REVOKE ALL ON ALL TABLES IN SCHEMA ddbfs FROM ddbfs_reader;
  REVOKE ALL ON ALL SEQUENCES IN SCHEMA ddbfs FROM ddbfs_reader;
  IF to_regrole('ddbfs') IS NOT NULL AND pg_has_role('ddbfs', 'MEMBER') THEN
    ALTER DEFAULT PRIVILEGES FOR ROLE ddbfs IN SCHEMA ddbfs
      REVOKE ALL ON TABLES FROM ddbfs_reader;
    ALTER DEFAULT PRIVILEGES FOR ROLE ddbfs IN SCHEMA ddbfs
      REVOKE ALL ON SEQUENCES FROM ddbfs_reader;
  END IF;
  GRANT USAGE ON SCHEMA ddbfs TO ddbfs_reader;
  GRANT SELECT ON ddbfs.documents, ddbfs.document_tags, ddbfs.tag_stats, ddbfs.chunk_health,
                  ddbfs.server_usage TO ddbfs_reader;
END
$$;
