-- DDBFS metadata schema, version 3: the request log of exactly-once
-- mutations (docs/metadata.md, "Exactly-once mutations").
--
-- A mutation that carries a request id (RequestContext.client_id + seq)
-- records its answer here IN THE SAME TRANSACTION as its changes. A retry
-- of the same request finds it and gets that first answer back instead of
-- running again, also after a metaserver restart. Rows older than the
-- retention (--request-log-retention-s, default one hour) are pruned by the
-- writer in batches.

CREATE TABLE ddbfs.request_log (
  client_id  uuid        NOT NULL,
  seq        bigint      NOT NULL,
  rpc        text        NOT NULL,
  response   bytea       NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (client_id, seq)
);

CREATE INDEX request_log_created_at ON ddbfs.request_log (created_at);

COMMENT ON TABLE ddbfs.request_log IS
  'First answer of every mutation sent with a request id, for exactly-once retries; pruned after the retention.';
COMMENT ON COLUMN ddbfs.request_log.client_id IS
  'RequestContext.client_id: 16 random bytes chosen by each client instance.';
COMMENT ON COLUMN ddbfs.request_log.seq IS
  'RequestContext.seq: the client''s number for one call, the same on every retry of it.';
COMMENT ON COLUMN ddbfs.request_log.rpc IS
  'MetaService method that answered (a retry naming another method is refused).';
COMMENT ON COLUMN ddbfs.request_log.response IS
  'The whole response struct, serialized with Thrift''s TBinaryProtocol.';
COMMENT ON COLUMN ddbfs.request_log.created_at IS
  'Commit time of the mutation (transaction start), for pruning.';
