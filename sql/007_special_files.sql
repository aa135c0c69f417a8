-- FIFOs, sockets and device nodes (docs/metadata.md, "Special files"):
-- types 4 FIFO, 5 socket, 6 character device, 7 block device; rdev is the
-- device number of a device, 0 for everything else.
ALTER TABLE ddbfs.inodes DROP CONSTRAINT inodes_type_check;
ALTER TABLE ddbfs.inodes ADD CONSTRAINT inodes_type_check CHECK (type BETWEEN 1 AND 7);
ALTER TABLE ddbfs.inodes ADD COLUMN rdev bigint NOT NULL DEFAULT 0;
ALTER TABLE ddbfs.inodes ADD CONSTRAINT inodes_rdev_check CHECK (rdev = 0 OR type IN (6, 7));
COMMENT ON COLUMN ddbfs.inodes.rdev IS 'Device number of a character or block device; 0 otherwise.';
