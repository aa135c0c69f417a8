-- DDBFS metadata schema, version 13: content hashes (docs/content_hash.md).
--
-- Chunk i of a file covers the file's bytes [i * 64 MiB, min(size, (i + 1) *
-- 64 MiB)). chunks.sha256 is the SHA-256 of those bytes as they were when it
-- was computed, over sha256_len bytes; a document's hash (inodes.sha256) is
-- the SHA-256 of the concatenation of its chunks' SHA-256s, a chunk that is
-- absent or holds no byte counting as that many zeros. NULL means stale: the
-- metaserver's background rehash computes it (a chunk) or puts it together
-- (a document). Only chunk servers compute hashes; the metaserver records a
-- chunk's hash at commit only when every replica that took the write proved
-- the same one (metaserver/ops/content_hash.cc).

ALTER TABLE ddbfs.chunks
  ADD COLUMN sha256 bytea CHECK (octet_length(sha256) = 32),
  ADD COLUMN sha256_len bigint CHECK (sha256_len BETWEEN 0 AND 67108864),
  ADD CONSTRAINT chunks_sha256_complete CHECK ((sha256 IS NULL) = (sha256_len IS NULL));
COMMENT ON COLUMN ddbfs.chunks.sha256 IS
  'SHA-256 of the file''s bytes this chunk covers (bytes past length are zeros), computed by a '
  'chunk server; NULL while stale (the background rehash recomputes it).';
COMMENT ON COLUMN ddbfs.chunks.sha256_len IS
  'How many bytes sha256 covers; it counts for the document only while it equals the chunk''s '
  'range in the file: min(size - idx * 64 MiB, 64 MiB).';

ALTER TABLE ddbfs.inodes
  ADD COLUMN sha256 bytea CHECK (octet_length(sha256) = 32);
COMMENT ON COLUMN ddbfs.inodes.sha256 IS
  'Content hash of a regular file: SHA-256 of the concatenation of its chunks'' SHA-256s '
  '(docs/content_hash.md); NULL while any of them is stale. Other inodes hold no data: theirs '
  'is that of no data, and nothing reads it.';

-- Every inode is created empty: the hash of no chunks at all, SHA-256 of
-- the empty string. The default applies to new rows only (set after the
-- column exists): files written before this migration have stale hashes,
-- put together by the background rehash, but for empty ones.
ALTER TABLE ddbfs.inodes ALTER COLUMN sha256 SET DEFAULT sha256(''::bytea);
UPDATE ddbfs.inodes SET sha256 = sha256(''::bytea) WHERE type = 1 AND size = 0;

-- What the background rehash looks for, and what `ddbfs dupes` reads in
-- (size, hash, inode) order.
CREATE INDEX chunks_unhashed ON ddbfs.chunks (id) WHERE sha256 IS NULL AND length > 0;
CREATE INDEX inodes_unhashed ON ddbfs.inodes (id) WHERE type = 1 AND sha256 IS NULL;
CREATE INDEX inodes_content ON ddbfs.inodes (size, sha256, id)
  WHERE type = 1 AND sha256 IS NOT NULL;

-- ddbfs.documents (sql/012_views.sql) with sha256 filled; every other column
-- as before.
CREATE OR REPLACE VIEW ddbfs.documents AS
SELECT i.id AS inode,
       w.path,
       w.name,
       i.size,
       timestamptz 'epoch' + (i.mtime_ns / 1000) * interval '1 microsecond' AS mtime,
       i.sha256,
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
COMMENT ON COLUMN ddbfs.documents.sha256 IS
  'Content hash of the document (docs/content_hash.md): SHA-256 of the concatenation of the '
  'SHA-256s of its 64 MiB chunks, not sha256sum''s value; NULL while stale (being recomputed).';

-- As sql/012_views.sql: the analysts' role reads the views (a replaced view
-- keeps its grants; granted again all the same).
DO $$
BEGIN
  IF to_regrole('ddbfs_reader') IS NULL THEN
    RETURN;
  END IF;
  GRANT USAGE ON SCHEMA ddbfs TO ddbfs_reader;
  GRANT SELECT ON ddbfs.documents, ddbfs.document_tags, ddbfs.tag_stats, ddbfs.chunk_health,
                  ddbfs.server_usage TO ddbfs_reader;
END
$$;
