-- DDBFS metadata schema, version 14: goals per file, directory and tag, and
-- draining chunk servers (docs/repair.md, "Goals" and "Draining").
--
-- A chunk's goal is the effective goal of its file: the highest of the
-- file's own goal (inodes.goal: set on it, or copied from its directory
-- when it was created) and the goals of the tag rules matching a tag it
-- carries. The repair joins ddbfs.tag_goals (one row per document carrying
-- a ruled tag) instead of storing tag goals on the inodes, so that tagging,
-- untagging and rule changes write nothing more than they did.

ALTER TABLE ddbfs.inodes ADD COLUMN goal_set boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN ddbfs.inodes.goal_set IS
  'goal was set on this node (ddbfs goal set); false: copied from its directory when created, '
  'or the cluster default (the root''s goal at creation of the file system).';

CREATE TABLE ddbfs.goal_rules (
  tag_id bigint PRIMARY KEY REFERENCES ddbfs.tags (id) ON DELETE CASCADE,
  goal smallint NOT NULL CHECK (goal BETWEEN 1 AND 9),
  created_ns bigint NOT NULL
);
COMMENT ON TABLE ddbfs.goal_rules IS
  'Tag rules: a document carrying the tag (with any value or none) has at least this goal.';

-- The highest tag-rule goal of each document that carries a ruled tag. The
-- planner inlines it: with no rule it costs nothing; else a hash of the
-- documents carrying ruled tags (doc_tags_by_value per rule).
CREATE VIEW ddbfs.tag_goals AS
SELECT dt.inode, max(gr.goal)::smallint AS goal
  FROM ddbfs.goal_rules gr
  JOIN ddbfs.doc_tags dt ON dt.tag_id = gr.tag_id
 GROUP BY dt.inode;
COMMENT ON VIEW ddbfs.tag_goals IS
  'Per document carrying a tag with a goal rule: the highest such goal (docs/repair.md, "Goals").';
COMMENT ON COLUMN ddbfs.tag_goals.inode IS 'The document.';
COMMENT ON COLUMN ddbfs.tag_goals.goal IS 'The highest goal of the rules of its tags.';

ALTER TABLE ddbfs.servers ADD COLUMN draining boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN ddbfs.servers.draining IS
  'ddbfs server drain: the server gets no new chunk or copy, its replicas do not count toward '
  'goals, and the repair moves them elsewhere, then drops them (docs/repair.md, "Draining").';

-- chunk_health (sql/012_views.sql) with the effective goal: the file's own
-- or its tags' rules, whichever is higher.
CREATE OR REPLACE VIEW ddbfs.chunk_health AS
SELECT c.id AS chunk,
       c.inode,
       c.idx,
       w.path,
       GREATEST(i.goal, tg.goal) AS goal,
       c.version,
       c.lease_id IS NOT NULL AS writing,
       r.replicas,
       r.current_replicas,
       r.live_replicas
  FROM ddbfs.chunks c
  JOIN ddbfs.inodes i ON i.id = c.inode
  LEFT JOIN ddbfs.tag_goals tg ON tg.inode = c.inode
 CROSS JOIN LATERAL (
   WITH RECURSIVE up(id, name, depth) AS (
     (SELECT d.parent, d.name, 0
        FROM ddbfs.dentries d
       WHERE d.inode = c.inode
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
   SELECT CASE WHEN bool_or(up.id = 1)
               THEN '/' || string_agg(up.name, '/' ORDER BY up.depth DESC) END AS path
     FROM up) w
 CROSS JOIN LATERAL (
   SELECT count(*) AS replicas,
          count(*) FILTER (WHERE rp.version = c.version) AS current_replicas,
          count(*) FILTER (WHERE rp.version = c.version
                             AND s.last_heartbeat > now() - interval '30 seconds') AS live_replicas
     FROM ddbfs.replicas rp
     JOIN ddbfs.servers s ON s.id = rp.server_id
    WHERE rp.chunk_id = c.id) r;

COMMENT ON COLUMN ddbfs.chunk_health.goal IS
  'Replicas wanted: the effective goal of the file (its own, or a tag rule''s if higher).';
