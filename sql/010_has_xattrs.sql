-- DDBFS metadata schema, version 10: whether an inode has extended
-- attributes, returned with its attributes so that a mount answers "no such
-- attribute" without asking (ls -l asks for security.selinux of every file;
-- docs/metadata.md, "Extended attributes"). Kept by the statements that put
-- and delete attributes (metaserver/store/xattr_store.cc); attributes go
-- with their inode (ON DELETE CASCADE), and so does the flag.

ALTER TABLE ddbfs.inodes ADD COLUMN has_xattrs boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN ddbfs.inodes.has_xattrs IS
  'True when the inode has at least one row in ddbfs.xattrs.';

UPDATE ddbfs.inodes i SET has_xattrs = true
  WHERE EXISTS (SELECT 1 FROM ddbfs.xattrs x WHERE x.inode = i.id);
