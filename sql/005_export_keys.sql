-- Export keys (docs/security.md, "Export keys"): the credentials clients on
-- other machines authenticate with. They live in their own schema, which the
-- analysts' role ddbfs_reader is never granted, so the secrets stay with the
-- metaserver's role.
CREATE SCHEMA IF NOT EXISTS ddbfs_secret;
REVOKE ALL ON SCHEMA ddbfs_secret FROM PUBLIC;

CREATE TABLE ddbfs_secret.export_keys (
  key_id      text PRIMARY KEY,
  name        text NOT NULL,
  secret_hex  text NOT NULL,                 -- 32 random bytes, hex
  networks    text NOT NULL DEFAULT '',      -- comma-separated CIDRs; '' = any address
  read_only   boolean NOT NULL DEFAULT false,
  subtree     text NOT NULL DEFAULT '/',
  identity    text NOT NULL CHECK (identity IN ('trusted', 'mapall')),
  map_uid     integer NOT NULL DEFAULT 65534,  -- mapall: every request runs as these
  map_gid     integer NOT NULL DEFAULT 65534,
  maproot_uid integer NOT NULL DEFAULT 65534,  -- trusted: uid 0 becomes these (root squash)
  maproot_gid integer NOT NULL DEFAULT 65534,
  admin       boolean NOT NULL DEFAULT false,
  created_ms  bigint NOT NULL,
  revoked_ms  bigint                          -- set when revoked; never served again
);
