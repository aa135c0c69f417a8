-- DDBFS metadata schema, version 20: POSIX ACLs (docs/metadata.md, "POSIX
-- ACLs"). Kept on the inode row, in Linux's xattr form
-- (system.posix_acl_access / system.posix_acl_default), so that every read
-- of an inode's attributes brings what its permission check needs. NULL:
-- none (the mode alone decides). The metaserver validates them and keeps the
-- mode's bits and the access ACL in step (metaserver/ops/posix_acl.cc).

ALTER TABLE ddbfs.inodes ADD COLUMN acl_access bytea, ADD COLUMN acl_default bytea;
COMMENT ON COLUMN ddbfs.inodes.acl_access IS
  'POSIX access ACL (the system.posix_acl_access xattr form), NULL when the mode says it all.';
COMMENT ON COLUMN ddbfs.inodes.acl_default IS
  'POSIX default ACL of a directory (system.posix_acl_default form), inherited by new nodes.';
