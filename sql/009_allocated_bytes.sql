-- DDBFS metadata schema, version 9: the bytes a file's chunks hold, for
-- st_blocks (docs/metadata.md, "Allocated bytes"). A hole between or after
-- chunks takes nothing, so a sparse file reports the space of its data,
-- not of its size. Kept by the statements that commit and truncate chunks
-- (metaserver/store/chunk_store.cc).

ALTER TABLE ddbfs.inodes ADD COLUMN allocated bigint NOT NULL DEFAULT 0
  CHECK (allocated >= 0);
COMMENT ON COLUMN ddbfs.inodes.allocated IS
  'Sum of the committed lengths of the file''s chunks, in bytes (one replica; 0 for non-files).';

UPDATE ddbfs.inodes i SET allocated = c.total
  FROM (SELECT inode, sum(length) AS total FROM ddbfs.chunks GROUP BY inode) c
  WHERE i.id = c.inode;
