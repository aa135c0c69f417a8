-- DDBFS metadata schema, version 19: an orphan is held by every client
-- session that has it open (docs/metadata.md, "Client sessions and orphans").
--
-- Until this version only the session of the client that removed a file's
-- last name could hold it (one row per inode): a second mount that had the
-- same file open lost it at the first one's last close. Mounts now declare
-- the files they have open; a file that loses its last name while several
-- sessions have it open gets one row per (inode, session), and it is
-- deleted with its data when the last of those rows goes (a release, a
-- closed or expired session).

ALTER TABLE ddbfs.orphans DROP CONSTRAINT orphans_pkey;
ALTER TABLE ddbfs.orphans ADD PRIMARY KEY (inode, session_id);

COMMENT ON TABLE ddbfs.orphans IS
  'Inodes with no name left (nlink 0), one row per client session that still has the inode open; the inode is deleted with its data when its last row goes (released, or its session closed or expired).';
COMMENT ON COLUMN ddbfs.orphans.session_id IS 'A client session that holds the inode (one of possibly several).';
