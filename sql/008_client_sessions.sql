-- DDBFS metadata schema, version 8: client sessions and the orphan inodes
-- they hold (docs/metadata.md, "Client sessions and orphans").
--
-- A file unlinked (or renamed over) while a client still has it open lives
-- on as an orphan: no directory entry, nlink 0, its data intact, readable
-- and writable by inode id. The client's session holds it. The metaserver
-- deletes it with its chunks (as a last unlink does) when the client
-- releases it at its last close, closes its session, or stops renewing the
-- session for the session timeout (--session-timeout-ms), e.g. because the
-- mount was killed.

CREATE SEQUENCE ddbfs.client_session_ids START WITH 1;
COMMENT ON SEQUENCE ddbfs.client_session_ids IS 'Client session ids, never reused.';

CREATE TABLE ddbfs.client_sessions (
  id          bigint PRIMARY KEY,
  principal   text   NOT NULL,
  description text   NOT NULL,
  created_ms  bigint NOT NULL,
  expires_ms  bigint NOT NULL
);

CREATE INDEX client_sessions_expires ON ddbfs.client_sessions (expires_ms);

COMMENT ON TABLE ddbfs.client_sessions IS
  'A client (a mount) known to the metaserver; holds the orphans of files it keeps open after their unlink.';
COMMENT ON COLUMN ddbfs.client_sessions.principal IS
  'Principal of the connection that opened it ("uid:0", "key:<id>", "cluster"); only it may renew, close or use the session.';
COMMENT ON COLUMN ddbfs.client_sessions.description IS
  'What the client said it is (program, mount point, host, pid), for logs and status.';
COMMENT ON COLUMN ddbfs.client_sessions.created_ms IS
  'When it was opened (ms since the Unix epoch, the metaserver''s clock).';
COMMENT ON COLUMN ddbfs.client_sessions.expires_ms IS
  'When it dies unless renewed (ms since the Unix epoch); extended at every metaserver start.';

CREATE TABLE ddbfs.orphans (
  inode       bigint PRIMARY KEY REFERENCES ddbfs.inodes (id) ON DELETE CASCADE,
  session_id  bigint NOT NULL REFERENCES ddbfs.client_sessions (id),
  parent      bigint NOT NULL,
  orphaned_ms bigint NOT NULL
);

CREATE INDEX orphans_session ON ddbfs.orphans (session_id);

COMMENT ON TABLE ddbfs.orphans IS
  'Inodes with no name left (nlink 0) that a client session still has open; deleted with their data when released or when the session dies.';
COMMENT ON COLUMN ddbfs.orphans.session_id IS 'The client session that holds the inode.';
COMMENT ON COLUMN ddbfs.orphans.parent IS
  'The directory its last name was removed from (a subtree-limited key reaches the orphan through it).';
COMMENT ON COLUMN ddbfs.orphans.orphaned_ms IS 'When its last name was removed (ms since the Unix epoch).';
