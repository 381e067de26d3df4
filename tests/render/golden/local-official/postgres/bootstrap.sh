#!/bin/sh
# Creates or updates Airflow's metadata database and the warehouse: roles, databases, schemas
# and grants. Idempotent: it runs on every `tinyctl up` and changes only what differs.
# Written by `tinyctl render`; passwords come from the environment (secrets/postgres.env).
set -eu
# PGHOST/PGPORT: the compose service name by default; the local runtime passes its socket.
export PGHOST="${PGHOST:-postgres}" PGPORT="${PGPORT:-5432}" PGUSER="$POSTGRES_USER" PGPASSWORD="$POSTGRES_PASSWORD"
export PGOPTIONS="-c client_min_messages=warning"

psql -X -q -v ON_ERROR_STOP=1 -d postgres \
  -v airflow_password="$TINYCTL_SECRET_AIRFLOW_DB_PASSWORD" \
  -v etl_password="$TINYCTL_SECRET_ROLE_ETL_PASSWORD" \
  -v analyst_password="$TINYCTL_SECRET_ROLE_ANALYST_PASSWORD" \
  <<'SQL'
-- Airflow's metadata database, owned by its own role.
SELECT 'CREATE ROLE airflow LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'airflow') \gexec
ALTER ROLE airflow WITH LOGIN PASSWORD :'airflow_password';
SELECT 'CREATE DATABASE airflow OWNER airflow ENCODING ''UTF8''' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'airflow') \gexec
REVOKE ALL ON DATABASE airflow FROM PUBLIC;

-- Warehouse roles.
SELECT 'CREATE ROLE etl LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'etl') \gexec
ALTER ROLE etl WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'etl_password';
SELECT 'CREATE ROLE analyst LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'analyst') \gexec
ALTER ROLE analyst WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'analyst_password';

-- Warehouse databases.
SELECT 'CREATE DATABASE warehouse ENCODING ''UTF8''' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'warehouse') \gexec
REVOKE ALL ON DATABASE warehouse FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE warehouse TO etl;
GRANT CONNECT, TEMPORARY ON DATABASE warehouse TO analyst;
SQL

# Schemas of warehouse: owned by the first writer role, readable by the reader roles.
psql -X -q -v ON_ERROR_STOP=1 -d warehouse <<'SQL'
CREATE SCHEMA IF NOT EXISTS staging AUTHORIZATION etl;
ALTER SCHEMA staging OWNER TO etl;
GRANT USAGE ON SCHEMA staging TO analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA staging TO analyst;
ALTER DEFAULT PRIVILEGES FOR ROLE etl IN SCHEMA staging GRANT SELECT ON TABLES TO analyst;
CREATE SCHEMA IF NOT EXISTS analytics AUTHORIZATION etl;
ALTER SCHEMA analytics OWNER TO etl;
GRANT USAGE ON SCHEMA analytics TO analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO analyst;
ALTER DEFAULT PRIVILEGES FOR ROLE etl IN SCHEMA analytics GRANT SELECT ON TABLES TO analyst;
SQL
echo "tinyctl: database bootstrap done"
