-- Extended attributes of every node (docs/metadata.md, "Extended
-- attributes"). They belong to the inode: every hard link shows them, and
-- they go with it when its last name is removed.
CREATE TABLE ddbfs.xattrs (
  inode bigint NOT NULL REFERENCES ddbfs.inodes (id) ON DELETE CASCADE,
  name  text COLLATE "C" NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 255),
  value bytea NOT NULL CHECK (octet_length(value) <= 65536),
  PRIMARY KEY (inode, name)
);
COMMENT ON TABLE ddbfs.xattrs IS
  'Extended attributes (user.*, trusted.*, security.*) of each inode.';
