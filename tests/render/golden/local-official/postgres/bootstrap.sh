#!/bin/sh
# Creates or updates Airflow's metadata database and the warehouse: roles, databases, schemas
# and grants. Idempotent: it runs on every `tinyctl up` and changes only what differs.
# Written by `tinyctl render`. Passwords are read from the read-only secret files in
# /run/tinyctl-secrets (psql's \set from a file): never from the environment or argv.
# Every name is a quoted identifier, so reserved words (user, order, ...) stay names.
set -eu
PGPASSWORD="$(cat /run/tinyctl-secrets/postgres_password)"
# PGHOST/PGPORT: the compose service by default; the local runtime passes its socket.
export PGHOST="${PGHOST:-postgres}" PGPORT="${PGPORT:-5432}" PGUSER="$POSTGRES_USER" PGPASSWORD
export PGOPTIONS="-c client_min_messages=warning"

psql -X -q -v ON_ERROR_STOP=1 -d postgres <<'SQL'
\set airflow_password `cat /run/tinyctl-secrets/airflow_db_password`
\set password_0 `cat /run/tinyctl-secrets/role_etl_password`
\set password_1 `cat /run/tinyctl-secrets/role_analyst_password`
\set reader_password `cat /run/tinyctl-secrets/role_tinyctl_reader_password`
-- Airflow's metadata database, owned by its own role.
SELECT 'CREATE ROLE airflow LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'airflow') \gexec
ALTER ROLE airflow WITH LOGIN PASSWORD :'airflow_password';
SELECT 'CREATE DATABASE airflow OWNER airflow ENCODING ''UTF8''' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'airflow') \gexec
REVOKE ALL ON DATABASE airflow FROM PUBLIC;

-- Warehouse roles.
SELECT format('CREATE ROLE %I LOGIN', 'etl') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'etl') \gexec
ALTER ROLE "etl" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password_0';
SELECT format('CREATE ROLE %I LOGIN', 'analyst') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'analyst') \gexec
ALTER ROLE "analyst" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password_1';

-- tinyctl's own read-only role (test-etl expectations): it can read every warehouse table and
-- write nothing but its own temporary tables, so not even `BEGIN READ WRITE` in a check can
-- change data.
SELECT format('CREATE ROLE %I LOGIN', 'tinyctl_reader') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tinyctl_reader') \gexec
ALTER ROLE "tinyctl_reader" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'reader_password';
ALTER ROLE "tinyctl_reader" SET default_transaction_read_only = on;
SELECT current_setting('server_version_num')::int >= 140000 AS has_read_all_data \gset
\if :has_read_all_data
GRANT pg_read_all_data TO "tinyctl_reader";
\endif

-- Warehouse databases.
SELECT format('CREATE DATABASE %I ENCODING ''UTF8''', 'warehouse') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'warehouse') \gexec
REVOKE ALL ON DATABASE "warehouse" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE "warehouse" TO "etl";
GRANT CONNECT, TEMPORARY ON DATABASE "warehouse" TO "analyst";
-- TEMPORARY: test-etl loads expected rows and fixture files into temporary tables (session-
-- private, dropped with the session); every other write stays refused.
GRANT CONNECT, TEMPORARY ON DATABASE "warehouse" TO "tinyctl_reader";
SQL

# Schemas of warehouse: owned by the first writer role, readable by the reader roles.
psql -X -q -v ON_ERROR_STOP=1 -d warehouse <<'SQL'
-- Nobody but the roles below may create anything (PostgreSQL before 15 let PUBLIC create in public).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CREATE ON SCHEMA public TO "etl";
CREATE SCHEMA IF NOT EXISTS "staging" AUTHORIZATION "etl";
ALTER SCHEMA "staging" OWNER TO "etl";
GRANT USAGE ON SCHEMA "staging" TO "analyst";
GRANT SELECT ON ALL TABLES IN SCHEMA "staging" TO "analyst";
ALTER DEFAULT PRIVILEGES FOR ROLE "etl" IN SCHEMA "staging" GRANT SELECT ON TABLES TO "analyst";
GRANT USAGE ON SCHEMA "staging" TO "tinyctl_reader";
GRANT SELECT ON ALL TABLES IN SCHEMA "staging" TO "tinyctl_reader";
ALTER DEFAULT PRIVILEGES FOR ROLE "etl" IN SCHEMA "staging" GRANT SELECT ON TABLES TO "tinyctl_reader";
CREATE SCHEMA IF NOT EXISTS "analytics" AUTHORIZATION "etl";
ALTER SCHEMA "analytics" OWNER TO "etl";
GRANT USAGE ON SCHEMA "analytics" TO "analyst";
GRANT SELECT ON ALL TABLES IN SCHEMA "analytics" TO "analyst";
ALTER DEFAULT PRIVILEGES FOR ROLE "etl" IN SCHEMA "analytics" GRANT SELECT ON TABLES TO "analyst";
GRANT USAGE ON SCHEMA "analytics" TO "tinyctl_reader";
GRANT SELECT ON ALL TABLES IN SCHEMA "analytics" TO "tinyctl_reader";
ALTER DEFAULT PRIVILEGES FOR ROLE "etl" IN SCHEMA "analytics" GRANT SELECT ON TABLES TO "tinyctl_reader";
CREATE SCHEMA IF NOT EXISTS "test_failures" AUTHORIZATION "etl";
ALTER SCHEMA "test_failures" OWNER TO "etl";
GRANT USAGE ON SCHEMA "test_failures" TO "analyst";
GRANT SELECT ON ALL TABLES IN SCHEMA "test_failures" TO "analyst";
ALTER DEFAULT PRIVILEGES FOR ROLE "etl" IN SCHEMA "test_failures" GRANT SELECT ON TABLES TO "analyst";
GRANT USAGE ON SCHEMA "test_failures" TO "tinyctl_reader";
GRANT SELECT ON ALL TABLES IN SCHEMA "test_failures" TO "tinyctl_reader";
ALTER DEFAULT PRIVILEGES FOR ROLE "etl" IN SCHEMA "test_failures" GRANT SELECT ON TABLES TO "tinyctl_reader";
SQL
echo "tinyctl: database bootstrap done"
