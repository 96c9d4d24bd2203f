#!/bin/sh
# Create IP2A's database and its two roles (docs/deploy.md). Safe to run again: it creates what is missing and
# sets passwords, ownership and database privileges to what they should be.
#
#   IP2A_DB_NAME            the database (default ip2a)
#   IP2A_DB_OWNER           the role that owns the database and its tables; migrations and seed, reset and restore
#                           log in as it (DATABASE_OWNER_URL) (default ip2a_owner)
#   IP2A_DB_OWNER_PASSWORD  its password (required)
#   IP2A_DB_APP             the role the portal logs in as (DATABASE_URL): it reads and writes rows, and may only
#                           append to the history and the access log (default ip2a_app)
#   IP2A_DB_APP_PASSWORD    its password (required)
#
# The administrator's connection comes from the usual PG* variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, …) or
# psql's defaults, to the database PGDATABASE (default postgres). Use a superuser (or a role with CREATEROLE and
# CREATEDB that may SET ROLE to the owner). As an init script of the postgres image (/docker-entrypoint-initdb.d/)
# it connects as POSTGRES_USER. Needs psql 15 or newer (\getenv keeps the passwords off the command line).
#
# Privileges on the tables come later, from `manage.py migrate` run with DATABASE_OWNER_URL (ip2a/dbroles.py).

db_roles() (
    set -eu
    IP2A_DB_NAME=${IP2A_DB_NAME:-ip2a}
    IP2A_DB_OWNER=${IP2A_DB_OWNER:-ip2a_owner}
    IP2A_DB_APP=${IP2A_DB_APP:-ip2a_app}
    : "${IP2A_DB_OWNER_PASSWORD:?set IP2A_DB_OWNER_PASSWORD}"
    : "${IP2A_DB_APP_PASSWORD:?set IP2A_DB_APP_PASSWORD}"
    export IP2A_DB_NAME IP2A_DB_OWNER IP2A_DB_APP IP2A_DB_OWNER_PASSWORD IP2A_DB_APP_PASSWORD
    if [ "$IP2A_DB_OWNER" = "$IP2A_DB_APP" ]; then
        echo "db-roles.sh: IP2A_DB_OWNER and IP2A_DB_APP must be two different roles." >&2
        exit 2
    fi
    # The postgres image runs init scripts with POSTGRES_USER as the administrator and no PGUSER set.
    if [ -z "${PGUSER:-}" ] && [ -n "${POSTGRES_USER:-}" ]; then
        PGUSER=$POSTGRES_USER
        export PGUSER
    fi
    psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --dbname="${PGDATABASE:-postgres}" <<'SQL'
\getenv db IP2A_DB_NAME
\getenv owner IP2A_DB_OWNER
\getenv owner_password IP2A_DB_OWNER_PASSWORD
\getenv app IP2A_DB_APP
\getenv app_password IP2A_DB_APP_PASSWORD

-- Roles that privileges would not bind are refused, never quietly changed: the administrator itself, a
-- superuser, a role that bypasses row security, an app role that may create roles or act as the owner.
-- (`manage.py migrate` makes the complete check, ip2a/dbroles.py.) The DO body is a quoted literal and the
-- message RAISE's argument, so no role name can end the body early or be read as a placeholder.
SELECT format('DO %L',
              format('BEGIN RAISE EXCEPTION ''%%'', %L; END',
                     'db-roles.sh: ' || rolname || ' is the administrator, a superuser, bypasses row security, '
                     || 'or (the app role) may create roles or act as the owner; choose other role names'))
  FROM pg_roles
 WHERE rolname IN (:'owner', :'app')
   AND (rolname = current_user OR rolsuper OR rolbypassrls
        OR (rolname = :'app' AND rolcreaterole)
        OR (rolname = :'app' AND CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner')
                                      THEN pg_has_role(rolname, :'owner', 'MEMBER') END))
\gexec

SELECT format('CREATE ROLE %I', :'owner') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner')
\gexec
SELECT format('CREATE ROLE %I', :'app') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app')
\gexec
-- Keep the passwords out of the server log (log_statement 'ddl' or 'all' would write them there); only a
-- superuser may change these settings, and any other administrator's statements are logged as configured.
SELECT 'SET log_statement = none', 'SET log_min_duration_statement = -1', 'SET log_min_error_statement = panic'
 WHERE (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
\gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'owner', :'owner_password')
\gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'app', :'app_password')
\gexec

SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec
ALTER DATABASE :"db" OWNER TO :"owner";
-- Only the two roles (and superusers) connect; nobody else gets temporary tables either.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"app";

\connect :"db"
-- Only the owner creates objects in the schema: whatever the app role created, it would own.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM :"app";
GRANT USAGE, CREATE ON SCHEMA public TO :"owner";
GRANT USAGE ON SCHEMA public TO :"app";

\echo db-roles.sh: database :"db" owned by :"owner"; :"app" may connect. Next: manage.py migrate with DATABASE_OWNER_URL set.
SQL
)

db_roles
