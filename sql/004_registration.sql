-- DDBFS metadata schema, version 4: paged chunk-server registration
-- (docs/metadata.md, "Chunk servers and liveness").
--
-- A registering server sends its inventory in pages sorted by chunk id; each
-- page is reconciled against this server's replica rows in the page's chunk
-- id range, which needs an index on (server_id, chunk_id). It replaces the
-- index on server_id alone, of which it is a superset.

CREATE INDEX replicas_server_chunk ON ddbfs.replicas (server_id, chunk_id);
DROP INDEX ddbfs.replicas_server;
COMMENT ON INDEX ddbfs.replicas_server_chunk IS
  'A server''s replicas in chunk id order: paged inventory reconciliation and per-server scans.';
