-- DDBFS metadata schema, version 11: tags of documents (docs/tags.md).
-- A tag is a name, or a name with a value; it belongs to the inode, so
-- renames and hard links keep it and the inode's deletion takes it away.
-- Names and values are stored in Unicode NFC and compared bytewise.

CREATE TABLE ddbfs.tags (
  id bigserial PRIMARY KEY,
  name text COLLATE "C" NOT NULL UNIQUE CHECK (octet_length(name) BETWEEN 1 AND 200),
  created_ns bigint NOT NULL
);
COMMENT ON TABLE ddbfs.tags IS
  'Every tag name in use or once used (kept until deleted by an admin).';

CREATE TABLE ddbfs.doc_tags (
  inode bigint NOT NULL REFERENCES ddbfs.inodes (id) ON DELETE CASCADE,
  tag_id bigint NOT NULL REFERENCES ddbfs.tags (id) ON DELETE CASCADE,
  has_value boolean NOT NULL,
  value text COLLATE "C" NOT NULL DEFAULT ''
    CHECK (octet_length(value) <= 200 AND (has_value OR value = '')),
  value_num double precision,  -- the value when it reads as a number
  value_ns bigint,             -- the value when it reads as an ISO 8601 date/time (ns, UTC)
  PRIMARY KEY (inode, tag_id, has_value, value)
);
CREATE INDEX doc_tags_by_value ON ddbfs.doc_tags (tag_id, value);
CREATE INDEX doc_tags_by_number ON ddbfs.doc_tags (tag_id, value_num)
  WHERE value_num IS NOT NULL;
CREATE INDEX doc_tags_by_time ON ddbfs.doc_tags (tag_id, value_ns) WHERE value_ns IS NOT NULL;
COMMENT ON TABLE ddbfs.doc_tags IS
  'The tags each inode carries: a name alone (has_value false) or with a value; a name may '
  'carry several values on one inode.';

CREATE TABLE ddbfs.tag_implies (
  tag_id bigint NOT NULL REFERENCES ddbfs.tags (id) ON DELETE CASCADE,
  implied_id bigint NOT NULL REFERENCES ddbfs.tags (id) ON DELETE CASCADE,
  PRIMARY KEY (tag_id, implied_id),
  CHECK (tag_id <> implied_id)
);
COMMENT ON TABLE ddbfs.tag_implies IS
  'Rules "a document tagged tag_id also matches implied_id", applied at query time.';

CREATE TABLE ddbfs.saved_queries (
  name text COLLATE "C" PRIMARY KEY CHECK (octet_length(name) BETWEEN 1 AND 255),
  expr text NOT NULL CHECK (octet_length(expr) <= 4096),
  owner_uid bigint NOT NULL,
  created_ns bigint NOT NULL
);
COMMENT ON TABLE ddbfs.saved_queries IS 'Queries saved by name, seen by every client.';
