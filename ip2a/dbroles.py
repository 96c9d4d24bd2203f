"""Two database roles (docs/deploy.md): the tables' owner and the portal's own role.

The owner (DATABASE_OWNER_URL) runs migrations and the operator commands that empty or replace tables (seed,
reset, restore). The portal's role (DATABASE_URL) owns nothing: it reads and writes rows, and may only read
and append to the history event tables and the access log. pgtrigger's switch that skips triggers is a session
setting any role may set, so two things keep history whole against the portal's own role: its privileges (it
may not update, delete or truncate a history row, switch or no switch), and pgtrigger's function that reads the
switch, replaced after every migrate so that the switch counts for the owner alone (else the portal's role
could change a row with its history trigger skipped).
"""

import contextlib

import pghistory.models
import psycopg
from django.conf import settings
from django.core.management.base import CommandError
from django.db import ProgrammingError, connection, transaction
from pgtrigger import features as pgtrigger_features
from psycopg import sql

from audit.integrity import event_models  # every event table, the auth user's included
from audit.models import AccessLog, CommandRun

# The connection fields DATABASE_OWNER_URL replaces; the database itself stays the connection's own (in tests
# the test database).
OWNER_FIELDS = ("USER", "PASSWORD", "HOST", "PORT", "OPTIONS")
# Only migrate writes it; the portal reads it for /readyz and the integrity checks.
READ_ONLY_TABLES = ("django_migrations",)
# A run records its result when it ends, but nothing in the portal removes one: the command log outlives a
# compromised portal.
NO_DELETE_TABLES = (CommandRun._meta.db_table,)
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
# Their members write every table, or read and write the server's files and run its programs, whatever the grants.
FORBIDDEN_ROLES = ("pg_write_all_data", "pg_execute_server_program", "pg_write_server_files", "pg_read_server_files")
# The name of the trigger (and of its function) that stamps each row the portal's role appends to the history or
# the access log with the time of its transaction.
APPEND_TIME = "ip2a_append_time"
# Whom the switch below and the append-time trigger trust: the owner (which may drop the triggers anyway) and
# superusers. pg_catalog is named: a temporary view would otherwise come first in the search path.
TRUSTED = (
    "(CURRENT_USER = {owner} "
    "OR COALESCE((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = CURRENT_USER), FALSE))"
)
# pgtrigger's own function (pgtrigger/compiler.py, UpsertTriggerSql), which every pgtrigger and pghistory trigger
# calls first, with one change: the switch counts only for the trusted roles. pgtrigger writes its version again
# whenever a migration installs a trigger, so grant_app_privileges() puts this one back after every migrate.
SHOULD_IGNORE = """
CREATE OR REPLACE FUNCTION {function}(
    trigger_name NAME
)
RETURNS BOOLEAN AS $$
    DECLARE
        _pgtrigger_ignore TEXT[];
        _result BOOLEAN;
    BEGIN
        BEGIN
            SELECT INTO _pgtrigger_ignore
                CURRENT_SETTING('pgtrigger.ignore');
            EXCEPTION WHEN OTHERS THEN
        END;
        IF _pgtrigger_ignore IS NOT NULL THEN
            IF NOT {trusted} THEN
                RETURN FALSE;
            END IF;
            SELECT trigger_name = ANY(_pgtrigger_ignore)
            INTO _result;
            RETURN _result;
        ELSE
            RETURN FALSE;
        END IF;
    END;
$$ LANGUAGE plpgsql
"""
# The column to stamp comes as the trigger's argument; every other column of the row is kept as it is.
APPEND_TIME_FUNCTION = """
CREATE OR REPLACE FUNCTION {function}()
RETURNS TRIGGER AS $$
    BEGIN
        IF NOT {trusted} THEN
            NEW := pg_catalog.jsonb_populate_record(
                NEW, pg_catalog.jsonb_build_object(TG_ARGV[0], pg_catalog.now())
            );
        END IF;
        RETURN NEW;
    END;
$$ LANGUAGE plpgsql
"""


class RoleError(Exception):
    """The roles are set up so that the portal's role could change history or the schema."""


def app_role() -> str:
    """The role the portal logs in as: DATABASE_URL's user."""
    return settings.DATABASES["default"]["USER"]


@contextlib.contextmanager
def owner_connection():
    """Run the block with the default connection logged in as the tables' owner, then give the portal's role back.

    Closes the connection, swaps its login fields for DATABASE_OWNER_URL's and lets the next query reconnect;
    with DATABASE_OWNER_URL unset the connection stays as it is (one role owns and does everything then). A
    refusal for want of privileges becomes a CommandError that says what to set.
    """
    owner = settings.DATABASE_OWNER
    try:
        if owner is None:
            yield
            return
        if connection.in_atomic_block:
            raise RuntimeError("Switching to the owner's role needs no transaction open on the default connection.")
        app_settings = connection.settings_dict
        connection.close()
        # A new dict: settings.DATABASES keeps the portal's role, which app_role() reads.
        connection.settings_dict = {**app_settings, **{field: owner[field] for field in OWNER_FIELDS}}
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict = app_settings
    except ProgrammingError as exc:
        if not isinstance(exc.__cause__, psycopg.errors.InsufficientPrivilege):
            raise
        fix = "DATABASE_OWNER_URL must log in as that role" if owner else "set DATABASE_OWNER_URL to the owner's login"
        raise CommandError(f"{exc}: this needs the tables' owner; {fix} (docs/deploy.md).") from exc


def append_only_tables() -> list[str]:
    """Tables the portal may only read and append to: every history event table, the access log, and pghistory's
    context table (unused while events carry their context as JSON; append-only should that ever change)."""
    tables = {model._meta.db_table for model in event_models()}
    return sorted(tables | {AccessLog._meta.db_table, pghistory.models.Context._meta.db_table})


def append_time_columns() -> dict[str, str]:
    """Table: the column holding when its row was written, for the append-only tables that have one."""
    columns = {model._meta.db_table: model._meta.get_field("pgh_created_at").column for model in event_models()}
    return columns | {AccessLog._meta.db_table: AccessLog._meta.get_field("created_at").column}


def compose(template: str, **parts) -> str:
    """SQL text with each part quoted by psycopg (sql.Identifier, sql.Literal; Django's quote_name does not
    escape an embedded double quote)."""
    return sql.SQL(template).format(**parts).as_string(None)


def quoted(name: str) -> str:
    """A role or database name as SQL spells it, for the fixes the refusals suggest."""
    return sql.Identifier(name).as_string(None)


def grant_app_privileges(*, check_only: bool = False) -> dict[str, int]:
    """Give the portal's role exactly what it needs in the current schema, as the owner (after every migrate and
    restore): USAGE on the schema; SELECT, INSERT, UPDATE, DELETE on every other table; SELECT, INSERT, UPDATE on
    the command log; only SELECT, INSERT on the append-only tables; SELECT on django_migrations; USAGE, SELECT on
    every sequence. Never TRUNCATE, never CREATE, never ownership; no CREATE or TEMPORARY on the database for
    anyone but its owner. Then puts back the switch function that trusts only the owner (SHOULD_IGNORE) and the
    append-time triggers, and checks what the portal's role can do in effect (check_privileges).

    Everything happens in one transaction, so it is idempotent, grants added by hand go, and a refusal changes
    nothing. Raises RoleError when the portal's role could get around its privileges. With ``check_only`` all
    of it is rolled back: a dry run that only refuses. Returns how many tables got each kind of grant."""
    role = app_role()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_schema(), current_database()")
        owner, schema, database = cursor.fetchone()
        check_roles(cursor, role=role, owner=owner)
        cursor.execute(
            "SELECT relname, relkind IN ('r', 'p') FROM pg_class "
            "WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %s) "
            "AND relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY relname",
            [schema],
        )
        relations = cursor.fetchall()
        tables = {name for name, is_table in relations if is_table}
        append_only = tables & set(append_only_tables())
        groups = {
            "SELECT, INSERT, UPDATE, DELETE": tables - append_only - set(READ_ONLY_TABLES) - set(NO_DELETE_TABLES),
            "SELECT, INSERT, UPDATE": tables & set(NO_DELETE_TABLES),
            "SELECT, INSERT": append_only,
            # Views and the like: read only.
            "SELECT": {name for name, is_table in relations if not is_table} | (tables & set(READ_ONLY_TABLES)),
        }
        names = {"role": sql.Identifier(role), "schema": sql.Identifier(schema), "database": sql.Identifier(database)}
        cursor.execute(compose("GRANT USAGE ON SCHEMA {schema} TO {role}", **names))
        cursor.execute(compose("REVOKE CREATE ON SCHEMA {schema} FROM {role}", **names))
        cursor.execute(compose("REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}", **names))
        cursor.execute(compose("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}", **names))
        for privileges, group in groups.items():
            if group:
                relation_list = sql.SQL(", ").join(sql.Identifier(schema, table) for table in sorted(group))
                cursor.execute(
                    compose(f"GRANT {privileges} ON TABLE {{tables}} TO {{role}}", tables=relation_list, **names)
                )
        cursor.execute(compose("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}", **names))
        # Only an owner may revoke what PUBLIC was given; PostgreSQL gives it TEMPORARY on every database.
        cursor.execute(
            "SELECT pg_has_role(current_user, datdba, 'USAGE') FROM pg_database WHERE datname = current_database()"
        )
        if cursor.fetchone()[0]:
            cursor.execute(compose("REVOKE CREATE, TEMPORARY ON DATABASE {database} FROM PUBLIC, {role}", **names))
        cursor.execute(
            "SELECT pg_has_role(current_user, nspowner, 'USAGE') FROM pg_namespace WHERE nspname = %s", [schema]
        )
        if cursor.fetchone()[0]:
            cursor.execute(compose("REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC", **names))
        protect_history(cursor, owner=owner, schema=schema, tables=tables)
        expected = {table: set(privileges.split(", ")) for privileges, group in groups.items() for table in group}
        check_privileges(cursor, role=role, expected=expected)
        if check_only:
            transaction.set_rollback(True)
    return {
        "read_write": len(groups["SELECT, INSERT, UPDATE, DELETE"]),
        "no_delete": len(groups["SELECT, INSERT, UPDATE"]),
        "append_only": len(groups["SELECT, INSERT"]),
        "read_only": len(groups["SELECT"]),
    }


def protect_history(cursor, *, owner: str, schema: str, tables: set[str]) -> None:
    """Make pgtrigger's switch count for the owner alone (SHOULD_IGNORE), and stamp every row another role appends
    to the history or the access log with the time of its transaction, so that the portal's role cannot backdate
    one (its triggers write that time anyway)."""
    trusted = sql.SQL(TRUSTED).format(owner=sql.Literal(owner))
    should_ignore = sql.Identifier(pgtrigger_features.schema(), "_pgtrigger_should_ignore")
    cursor.execute(compose(SHOULD_IGNORE, function=should_ignore, trusted=trusted))
    function = sql.Identifier(schema, APPEND_TIME)
    cursor.execute(compose(APPEND_TIME_FUNCTION, function=function, trusted=trusted))
    cursor.execute(
        "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE t.tgname = %s AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %s)",
        [APPEND_TIME, schema],
    )
    stamped = {name for (name,) in cursor.fetchall()}
    for table, column in sorted(append_time_columns().items()):
        if table in tables and table not in stamped:  # creating a trigger locks the table: only the missing ones
            cursor.execute(
                compose(
                    "CREATE TRIGGER {trigger} BEFORE INSERT ON {table} FOR EACH ROW "
                    "EXECUTE FUNCTION {function}({column})",
                    trigger=sql.Identifier(APPEND_TIME),
                    table=sql.Identifier(schema, table),
                    function=function,
                    column=sql.Literal(column),
                )
            )


def refuse(role: str, problems: list[str]) -> None:
    """Raise one RoleError that lists every problem found, each with its fix."""
    if problems:
        raise RoleError(
            f"The portal's role {role!r} (DATABASE_URL) could get around its privileges: {'; '.join(problems)}. "
            "Fix that as an administrator, then run the command again."
        )


def check_roles(cursor, *, role: str, owner: str) -> None:
    """Refuse a portal role that privileges would not bind, before anything is granted: one that does not exist,
    is the owner or may act as it; that is, or belongs to, a superuser, a role that bypasses row security or may
    create roles, or a predefined role that writes every table or reaches the server's files and programs; that
    owns the database or anything in it. Roles it belongs to count: SET ROLE gives it what they have."""
    cursor.execute("SELECT pg_has_role(%s, %s, 'MEMBER') FROM pg_roles WHERE rolname = %s", [role, owner, role])
    row = cursor.fetchone()
    if row is None:
        raise RoleError(f"The portal's role {role!r} (DATABASE_URL) does not exist: run deploy/db-roles.sh.")
    if role == owner or row[0]:
        raise RoleError(f"The portal's role {role!r} can act as the owner {owner!r}; use two separate roles.")
    problems = []
    cursor.execute(
        "SELECT rolname, rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE pg_has_role(%s, oid, 'MEMBER') "
        "ORDER BY rolname <> %s, rolname",
        [role, role],
    )
    for name, superuser, bypass_rls, create_role in cursor.fetchall():
        through = "" if name == role else f" through {name}"
        if superuser:
            problems.append(f"it is a superuser{through} (ALTER ROLE {quoted(name)} NOSUPERUSER)")
        if bypass_rls:
            problems.append(f"it bypasses row security{through} (ALTER ROLE {quoted(name)} NOBYPASSRLS)")
        if create_role:
            problems.append(
                f"it may create roles{through}, and so grant itself the owner's role "
                f"(ALTER ROLE {quoted(name)} NOCREATEROLE)"
            )
        if name in FORBIDDEN_ROLES:
            problems.append(f"it belongs to {name}, whatever the grants (REVOKE {name} FROM {quoted(role)})")
    cursor.execute(
        "SELECT datname FROM pg_database WHERE datname = current_database() AND pg_has_role(%s, datdba, 'MEMBER')",
        [role],
    )
    for (database,) in cursor.fetchall():
        problems.append(
            f"it owns the database {database}, and so its schema public "
            f"(ALTER DATABASE {quoted(database)} OWNER TO {quoted(owner)})"
        )
    # Every object of this database that the role, or a role it belongs to, owns: what REASSIGN OWNED moves.
    cursor.execute(
        "SELECT pg_get_userbyid(refobjid), pg_describe_object(classid, objid, objsubid) FROM pg_shdepend "
        "WHERE deptype = 'o' AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND pg_has_role(%s, refobjid, 'MEMBER') ORDER BY 1, 2",
        [role],
    )
    owned = {}
    for holder, description in cursor.fetchall():
        owned.setdefault(holder, []).append(description)
    for holder, descriptions in owned.items():
        through = "" if holder == role else f" through {holder}"
        problems.append(
            f"it owns {len(descriptions)} objects{through}, e.g. {', '.join(descriptions[:3])} "
            f"(REASSIGN OWNED BY {quoted(holder)} TO {quoted(owner)}, in this database)"
        )
    refuse(role, problems)


def check_privileges(cursor, *, role: str, expected: dict[str, set[str]]) -> None:
    """Refuse, after granting, a portal role that can do more in effect than ``expected`` (table: privileges)
    allows, whoever gave it: CREATE or TEMPORARY on the database (a temporary table named like an event table
    would take its place in the history triggers' unqualified SQL), CREATE on any schema, a table or column
    privilege beyond its grants, UPDATE (setval) on a sequence. REVOKE … FROM the role leaves what PUBLIC or a
    role it belongs to holds, so the refusal names those holders."""
    holders = (
        "ARRAY(SELECT DISTINCT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END "
        "FROM {acls} AS acls(acl), aclexplode(acls.acl) AS a WHERE a.privilege_type = {privilege} "
        "AND (a.grantee = 0 OR pg_has_role(%(role)s, a.grantee, 'MEMBER')) ORDER BY 1)"
    )
    problems = []
    cursor.execute(
        "SELECT d.datname, p.privilege, "
        + holders.format(acls="(SELECT coalesce(d.datacl, acldefault('d', d.datdba)))", privilege="p.privilege")
        + " FROM pg_database d, unnest(ARRAY['CREATE', 'TEMPORARY']) AS p(privilege) "
        "WHERE d.datname = current_database() AND has_database_privilege(%(role)s, d.oid, p.privilege)",
        {"role": role},
    )
    for database, privilege, granted_to in cursor.fetchall():
        what = "schemas" if privilege == "CREATE" else "temporary tables"
        why = "" if privilege == "CREATE" else ", and one named like a history table takes its place in the triggers"
        problems.append(
            f"it may create {what} in the database {database}{why} "
            f"(REVOKE {privilege} ON DATABASE {quoted(database)} FROM {', '.join(granted_to) or 'its grantor'})"
        )
    cursor.execute(
        "SELECT n.nspname, "
        + holders.format(acls="(SELECT coalesce(n.nspacl, acldefault('n', n.nspowner)))", privilege="'CREATE'")
        + " FROM pg_namespace n WHERE has_schema_privilege(%(role)s, n.oid, 'CREATE') ORDER BY 1",
        {"role": role},
    )
    for schema, granted_to in cursor.fetchall():
        problems.append(
            f"it may create objects in the schema {schema} "
            f"(REVOKE CREATE ON SCHEMA {quoted(schema)} FROM {', '.join(granted_to) or 'its grantor'})"
        )
    # Column privileges count too: UPDATE on one column of an event table rewrites history as well.
    cursor.execute(
        "SELECT c.relname, p.privilege, "
        + holders.format(
            acls="(SELECT c.relacl UNION ALL SELECT attacl FROM pg_attribute WHERE attrelid = c.oid)",
            privilege="p.privilege",
        )
        + " FROM pg_class c, unnest(%(privileges)s::text[]) AS p(privilege) "
        "WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND CASE "
        "WHEN c.relkind = 'S' THEN p.privilege = 'UPDATE' AND has_sequence_privilege(%(role)s, c.oid, 'UPDATE') "
        "WHEN c.relkind NOT IN ('r', 'p', 'v', 'm', 'f') THEN FALSE "
        "WHEN p.privilege IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES') "
        "THEN has_any_column_privilege(%(role)s, c.oid, p.privilege) "
        "ELSE has_table_privilege(%(role)s, c.oid, p.privilege) END "
        "ORDER BY 1, 2",
        {"role": role, "privileges": list(TABLE_PRIVILEGES)},
    )
    extra = [
        (f"{privilege} on {table}", granted_to)
        for table, privilege, granted_to in cursor.fetchall()
        if privilege not in expected.get(table, {"USAGE", "SELECT"})  # a sequence's
    ]
    if extra:
        granted_to = sorted({name for _, names in extra for name in names}) or ["its grantor"]
        problems.append(
            f"it holds {len(extra)} privileges beyond its grants, e.g. {', '.join(what for what, _ in extra[:4])} "
            f"(revoke them from {', '.join(granted_to)})"
        )
    refuse(role, problems)
