-- DDBFS database roles: an admin step, run by a PostgreSQL superuser with psql.
-- NOT a schema migration (the metaserver embeds only the files listed in
-- metaserver/CMakeLists.txt, sql/NNN_name.sql); see docs/database_roles.md.
--
--   psql -X -v ON_ERROR_STOP=1 -h DBHOST -U postgres -d postgres -f sql/roles.sql
--   psql -h DBHOST -U postgres -d postgres -c '\password ddbfs'    (prompts)
--
-- Idempotent: run it again at will (scripts/cluster runs it at every `up`).
-- It creates, or brings back to these attributes:
--   ddbfs         LOGIN, no SUPERUSER/CREATEDB/CREATEROLE/REPLICATION/BYPASSRLS;
--                 owns the database ddbfs, the schemas ddbfs and ddbfs_secret
--                 (made by the metaserver) and all in them.
--                 No password here: set it with \password ddbfs.
--   ddbfs_reader  NOLOGIN group role for analysts: CONNECT, USAGE on the
--                 schema, SELECT on the views of docs/sql.md (migration 012)
--                 and nothing else: no table or sequence of ddbfs (the views
--                 read them with their owner's rights), no default
--                 privileges, nothing of the schema ddbfs_secret (export
--                 keys, migration 005). A login for an analyst:
--                   CREATE ROLE ana LOGIN PASSWORD '...' IN ROLE ddbfs_reader;
-- A database ddbfs made by an earlier scripts/cluster (owned by postgres, its
-- schema and tables created by a metaserver connected as postgres) is handed
-- over to ddbfs.
--
-- psql variables (optional):
--   -v db=NAME       database (default ddbfs)
--   -v shared_db=1   NAME is an existing database shared with other
--                    applications: it is neither created nor given to ddbfs;
--                    ddbfs gets CONNECT and CREATE on it (the metaserver runs
--                    CREATE SCHEMA IF NOT EXISTS ddbfs at start, which needs
--                    CREATE) and owns only the schemas ddbfs and ddbfs_secret.

\set ON_ERROR_STOP on
\if :{?db}
\else
  \set db ddbfs
\endif
\if :{?shared_db}
\else
  \set shared_db 0
\endif

SET client_min_messages = warning;

-- Roles (cluster-wide).
SELECT 'CREATE ROLE ddbfs LOGIN'
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ddbfs') \gexec
ALTER ROLE ddbfs LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT;
COMMENT ON ROLE ddbfs IS
  'DDBFS metaserver: owns the ddbfs schema; no superuser, CREATEDB, CREATEROLE, REPLICATION, BYPASSRLS (sql/roles.sql).';

SELECT 'CREATE ROLE ddbfs_reader NOLOGIN'
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ddbfs_reader') \gexec
ALTER ROLE ddbfs_reader NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
COMMENT ON ROLE ddbfs_reader IS
  'DDBFS analysts (group role): SELECT on the views of the ddbfs schema (docs/sql.md) and nothing else (sql/roles.sql).';

-- Memberships that would give the metaserver more than its schema (superuser
-- file and program access, or role administration), or the analysts more
-- than the views (reading every table), are taken away.
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT g.rolname AS grp, u.rolname AS member
      FROM pg_auth_members m
      JOIN pg_roles g ON g.oid = m.roleid
      JOIN pg_roles u ON u.oid = m.member
     WHERE u.rolname IN ('ddbfs', 'ddbfs_reader')
       AND (g.rolsuper OR g.rolcreaterole OR g.rolreplication OR g.rolbypassrls
            OR g.rolname IN ('pg_execute_server_program', 'pg_read_server_files',
                             'pg_write_server_files', 'pg_write_all_data')
            OR (u.rolname = 'ddbfs_reader' AND g.rolname = 'pg_read_all_data'))
  LOOP
    RAISE WARNING 'revoking membership in % from %', r.grp, r.member;
    EXECUTE format('REVOKE %I FROM %I', r.grp, r.member);
  END LOOP;
END
$$;

-- The database.
\if :shared_db
  -- (fails if the database does not exist)
  GRANT CONNECT, CREATE ON DATABASE :"db" TO ddbfs;
  GRANT CONNECT ON DATABASE :"db" TO ddbfs_reader;
\else
  SELECT format('CREATE DATABASE %I OWNER ddbfs', :'db')
    WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
  ALTER DATABASE :"db" OWNER TO ddbfs;
  -- Only the roles that need it may connect (superusers always can).
  REVOKE CONNECT, TEMPORARY ON DATABASE :"db" FROM PUBLIC;
  GRANT CONNECT ON DATABASE :"db" TO ddbfs, ddbfs_reader;
  -- No JIT compilation in this database: its queries (the metaserver's, and
  -- the analysts' on the views) read a few rows by index, and PostgreSQL's
  -- cost estimate of a view's recursive path walk over 1,000,000 documents
  -- crossed jit_above_cost: 11 ms of JIT for a query that runs in 1 ms
  -- (bench/README.md). A shared database keeps its own settings.
  ALTER DATABASE :"db" SET jit = off;
\endif

\connect :"db"
SET client_min_messages = warning;

BEGIN;

-- Nobody but the owner creates objects in public (PostgreSQL 15's default,
-- repeated for databases made by older versions or restored from them).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA IF NOT EXISTS ddbfs AUTHORIZATION ddbfs;

-- Hand the metaserver's schemas and everything in them to ddbfs: ddbfs, and
-- ddbfs_secret (migration 005: export keys) once it exists, as filled by a
-- metaserver that connected as postgres. REASSIGN OWNED BY postgres is
-- impossible (the bootstrap superuser owns the system objects), so object by
-- object. Indexes follow their table, sequences owned by a column their table.
DO $$
DECLARE
  r record;
  n integer := 0;
BEGIN
  FOR r IN
    SELECT nspname FROM pg_namespace
     WHERE nspname IN ('ddbfs', 'ddbfs_secret') AND nspowner <> 'ddbfs'::regrole
  LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO ddbfs', r.nspname);
    n := n + 1;
  END LOOP;
  FOR r IN
    SELECT c.oid::regclass AS obj,
           CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                          WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind
      FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
     WHERE s.nspname IN ('ddbfs', 'ddbfs_secret')
       AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND c.relowner <> 'ddbfs'::regrole
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO ddbfs', r.kind, r.obj);
    n := n + 1;
  END LOOP;
  -- Sequences not tied to a column (the ALTER TABLEs above moved the others).
  FOR r IN
    SELECT c.oid::regclass AS obj
      FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
     WHERE s.nspname IN ('ddbfs', 'ddbfs_secret')
       AND c.relkind = 'S'
       AND c.relowner <> 'ddbfs'::regrole
  LOOP
    EXECUTE format('ALTER SEQUENCE %s OWNER TO ddbfs', r.obj);
    n := n + 1;
  END LOOP;
  FOR r IN
    SELECT p.oid::regprocedure AS obj
      FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace
     WHERE s.nspname IN ('ddbfs', 'ddbfs_secret')
       AND p.proowner <> 'ddbfs'::regrole
  LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO ddbfs', r.obj);
    n := n + 1;
  END LOOP;
  -- Free-standing types and domains (row types follow their table, array
  -- types their element type).
  FOR r IN
    SELECT t.oid::regtype AS obj, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS kind
      FROM pg_type t JOIN pg_namespace s ON s.oid = t.typnamespace
      LEFT JOIN pg_class c ON c.oid = t.typrelid
     WHERE s.nspname IN ('ddbfs', 'ddbfs_secret')
       AND t.typowner <> 'ddbfs'::regrole
       AND t.typtype IN ('b', 'c', 'd', 'e', 'r')
       AND (t.typrelid = 0 OR c.relkind = 'c')
       AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO ddbfs', r.kind, r.obj);
    n := n + 1;
  END LOOP;
  IF n > 0 THEN
    RAISE WARNING 'gave % objects of schemas ddbfs, ddbfs_secret to role ddbfs', n;
  END IF;
END
$$;

-- Analysts: SELECT on the views of docs/sql.md and nothing else. No table
-- or sequence of ddbfs (the views read them with their owner's rights, so
-- the reader needs none), no default privileges (a table a later migration
-- creates stays closed), nothing of ddbfs_secret (export keys). A database
-- prepared by an earlier version of this script, where the reader had SELECT
-- on every table and default privileges for new ones, is brought to this.
-- A new view for analysts is granted by its migration and named here.
GRANT USAGE ON SCHEMA ddbfs TO ddbfs_reader;
REVOKE CREATE ON SCHEMA ddbfs FROM ddbfs_reader;
DO $$
DECLARE
  reader_views CONSTANT text[] :=
    ARRAY['documents', 'document_tags', 'tag_stats', 'chunk_health', 'server_usage'];
  r record;
BEGIN
  FOR r IN
    SELECT c.oid::regclass AS obj, c.relname, c.relkind
      FROM pg_class c
     WHERE c.relnamespace = 'ddbfs'::regnamespace
       AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  LOOP
    EXECUTE format('REVOKE ALL ON %s FROM ddbfs_reader', r.obj);
    IF r.relkind = 'v' AND r.relname = ANY (reader_views) THEN
      EXECUTE format('GRANT SELECT ON %s TO ddbfs_reader', r.obj);
    END IF;
  END LOOP;
  IF to_regnamespace('ddbfs_secret') IS NOT NULL THEN
    REVOKE ALL ON SCHEMA ddbfs_secret FROM PUBLIC, ddbfs_reader;
    REVOKE ALL ON ALL TABLES IN SCHEMA ddbfs_secret FROM PUBLIC, ddbfs_reader;
  END IF;
END
$$;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA ddbfs FROM ddbfs_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE ddbfs IN SCHEMA ddbfs REVOKE ALL ON TABLES FROM ddbfs_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE ddbfs IN SCHEMA ddbfs REVOKE ALL ON SEQUENCES FROM ddbfs_reader;

COMMIT;
