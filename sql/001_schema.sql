-- DDBFS metadata schema, version 1: namespace, chunk map, chunk servers.
-- Applied by ddbfs-metaserver at start inside one transaction and recorded
-- in ddbfs.schema_migrations; never edit an applied migration, add the next.

CREATE SCHEMA IF NOT EXISTS ddbfs;

-- Every node of the namespace: regular files (documents), directories and
-- symbolic links. Tags, content hashes and volumes hang off this id.
CREATE TABLE ddbfs.inodes (
  id             bigint   PRIMARY KEY,
  type           smallint NOT NULL CHECK (type IN (1, 2, 3)),  -- 1 file, 2 dir, 3 symlink
  mode           integer  NOT NULL CHECK (mode >= 0 AND mode <= 4095),
  uid            bigint   NOT NULL,
  gid            bigint   NOT NULL,
  size           bigint   NOT NULL DEFAULT 0 CHECK (size >= 0),
  atime_ns       bigint   NOT NULL,
  mtime_ns       bigint   NOT NULL,
  ctime_ns       bigint   NOT NULL,
  nlink          integer  NOT NULL CHECK (nlink >= 0),
  goal           smallint NOT NULL CHECK (goal BETWEEN 1 AND 9),
  symlink_target text,
  CHECK ((type = 3) = (symlink_target IS NOT NULL))
);
COMMENT ON TABLE ddbfs.inodes IS
  'One row per file, directory or symlink; times are nanoseconds since the Unix epoch; goal is the wanted number of replicas of each chunk.';

CREATE SEQUENCE ddbfs.inode_ids START WITH 2;
COMMENT ON SEQUENCE ddbfs.inode_ids IS 'Inode numbers; 1 is the root directory.';

-- Directory entries. Names are UTF-8, 1..255 bytes, without '/' or NUL,
-- ordered bytewise (COLLATE "C") so that paged listings are stable.
CREATE TABLE ddbfs.dentries (
  parent bigint NOT NULL REFERENCES ddbfs.inodes (id),
  name   text COLLATE "C" NOT NULL CHECK (name <> '' AND octet_length(name) <= 255
                                         AND position('/' IN name) = 0),
  inode  bigint NOT NULL REFERENCES ddbfs.inodes (id),
  PRIMARY KEY (parent, name)
);
CREATE INDEX dentries_inode ON ddbfs.dentries (inode);
COMMENT ON TABLE ddbfs.dentries IS
  'Directory entries: the name under which inode is reachable in directory parent (several for hard links).';

-- The chunk map: chunk idx of a file holds bytes [idx*64MiB, (idx+1)*64MiB).
-- version is the committed version; a chunk that is absent is a hole.
CREATE TABLE ddbfs.chunks (
  id      bigint PRIMARY KEY,
  inode   bigint NOT NULL REFERENCES ddbfs.inodes (id),
  idx     bigint NOT NULL CHECK (idx >= 0),
  version bigint NOT NULL CHECK (version >= 0),
  length  bigint NOT NULL CHECK (length >= 0 AND length <= 67108864),
  UNIQUE (inode, idx)
);
COMMENT ON TABLE ddbfs.chunks IS
  'Chunks of every file: idx within the file, committed version, valid length in bytes.';

CREATE SEQUENCE ddbfs.chunk_ids START WITH 1;
COMMENT ON SEQUENCE ddbfs.chunk_ids IS 'Chunk ids, never reused.';

-- Chunk servers ever registered. uuid is stored in the server's data folder
-- so that a restarted server keeps its id.
CREATE TABLE ddbfs.servers (
  id             serial PRIMARY KEY,
  uuid           text   NOT NULL UNIQUE,
  host           text   NOT NULL,
  port           integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
  label          text   NOT NULL,
  capacity_bytes bigint NOT NULL DEFAULT 0,
  used_bytes     bigint NOT NULL DEFAULT 0,
  chunk_count    bigint NOT NULL DEFAULT 0,
  registered_at  timestamptz NOT NULL DEFAULT now(),
  last_heartbeat timestamptz
);
COMMENT ON TABLE ddbfs.servers IS
  'Registered chunk servers: address, host label used for placement, last reported capacity and use.';

-- Where each chunk's replicas are and which version each one holds. A replica
-- whose version is below the chunk's committed version is stale.
CREATE TABLE ddbfs.replicas (
  chunk_id  bigint  NOT NULL REFERENCES ddbfs.chunks (id) ON DELETE CASCADE,
  server_id integer NOT NULL REFERENCES ddbfs.servers (id),
  version   bigint  NOT NULL,
  PRIMARY KEY (chunk_id, server_id)
);
CREATE INDEX replicas_server ON ddbfs.replicas (server_id);
COMMENT ON TABLE ddbfs.replicas IS
  'Replica of a chunk on a chunk server, with the version it holds.';

-- Replicas that must be deleted from chunk servers (garbage collection of
-- deleted, truncated, stale or corrupt data). Sent in heartbeat replies and
-- removed when the server reports the deletion done.
CREATE TABLE ddbfs.gc_queue (
  server_id integer NOT NULL REFERENCES ddbfs.servers (id),
  chunk_id  bigint  NOT NULL,
  queued_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (server_id, chunk_id)
);
COMMENT ON TABLE ddbfs.gc_queue IS
  'Replicas queued for deletion on a chunk server; emptied as servers confirm.';

-- The root directory.
INSERT INTO ddbfs.inodes (id, type, mode, uid, gid, size, atime_ns, mtime_ns, ctime_ns, nlink, goal)
VALUES (1, 2, 493, 0, 0, 0,
        (extract(epoch FROM now()) * 1e9)::bigint,
        (extract(epoch FROM now()) * 1e9)::bigint,
        (extract(epoch FROM now()) * 1e9)::bigint, 2, 2);
