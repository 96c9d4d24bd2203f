"""Two database roles (docs/deploy.md): the tables' owner and the portal's own role.

The owner (DATABASE_OWNER_URL) runs migrations and the operator commands that empty or replace tables (seed,
reset, restore). The portal's role (DATABASE_URL) owns nothing: it reads and writes rows, and may only read
and append to the history event tables and the access log. pgtrigger's switch that skips the append-only
triggers is a session setting any role may set, so these privileges, not the triggers, are what keep history
append-only against the portal's own role.
"""

import contextlib

import pghistory.models
import psycopg
from django.apps import apps
from django.conf import settings
from django.core.management.base import CommandError
from django.db import ProgrammingError, connection, transaction

from audit.models import AccessLog

# The connection fields DATABASE_OWNER_URL replaces; the database itself stays the connection's own (in tests
# the test database).
OWNER_FIELDS = ("USER", "PASSWORD", "HOST", "PORT", "OPTIONS")
# Only migrate writes it; the portal reads it for /readyz and the integrity checks.
READ_ONLY_TABLES = ("django_migrations",)


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
    events = [
        model
        for model in apps.get_models()
        if issubclass(model, pghistory.models.Event) and model._meta.managed and not model._meta.proxy
    ]
    tables = {model._meta.db_table for model in events}
    return sorted(tables | {AccessLog._meta.db_table, pghistory.models.Context._meta.db_table})


def grant_app_privileges() -> dict[str, int]:
    """Give the portal's role exactly what it needs in the current schema, as the owner (after every migrate and
    restore): USAGE on the schema; SELECT, INSERT, UPDATE, DELETE on every other table; only SELECT, INSERT on
    the append-only tables; SELECT on django_migrations; USAGE, SELECT on every sequence. Never TRUNCATE, never
    CREATE, never ownership. Everything is revoked and granted again in one transaction, so it is idempotent
    and grants added by hand go. Raises RoleError when the portal's role could get around the privileges.
    Returns how many tables got each kind of grant."""
    role = app_role()
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_schema()")
        owner, schema = cursor.fetchone()
        check_roles(cursor, role=role, owner=owner, schema=schema)
        cursor.execute(
            "SELECT relname, relkind IN ('r', 'p') FROM pg_class WHERE relnamespace = %s::regnamespace "
            "AND relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY relname",
            [quote(schema)],
        )
        relations = cursor.fetchall()
        append_only = set(append_only_tables())
        groups = {
            "SELECT, INSERT, UPDATE, DELETE": [
                name
                for name, is_table in relations
                if is_table and name not in append_only and name not in READ_ONLY_TABLES
            ],
            "SELECT, INSERT": [name for name, is_table in relations if is_table and name in append_only],
            # Views and the like: read only.
            "SELECT": [name for name, is_table in relations if not is_table or name in READ_ONLY_TABLES],
        }
        grantee, schema_name = quote(role), quote(schema)
        cursor.execute(f"GRANT USAGE ON SCHEMA {schema_name} TO {grantee}")
        cursor.execute(f"REVOKE CREATE ON SCHEMA {schema_name} FROM {grantee}")
        cursor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema_name} FROM {grantee}")
        cursor.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema_name} FROM {grantee}")
        for privileges, tables in groups.items():
            if tables:
                names = ", ".join(f"{schema_name}.{quote(table)}" for table in tables)
                cursor.execute(f"GRANT {privileges} ON TABLE {names} TO {grantee}")
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema_name} TO {grantee}")
    return {
        "read_write": len(groups["SELECT, INSERT, UPDATE, DELETE"]),
        "append_only": len(groups["SELECT, INSERT"]),
        "read_only": len(groups["SELECT"]),
    }


def check_roles(cursor, *, role: str, owner: str, schema: str) -> None:
    """Refuse a portal role that privileges would not bind: a superuser, one that bypasses row security, a member
    of the owner's role, or the owner of anything in the schema."""
    cursor.execute(
        "SELECT rolsuper, rolbypassrls, pg_has_role(rolname, %s, 'MEMBER') FROM pg_roles WHERE rolname = %s",
        [owner, role],
    )
    row = cursor.fetchone()
    if row is None:
        raise RoleError(f"The portal's role {role!r} (DATABASE_URL) does not exist: run deploy/db-roles.sh.")
    superuser, bypass_rls, member = row
    if role == owner or member:
        raise RoleError(f"The portal's role {role!r} can act as the owner {owner!r}; use two separate roles.")
    if superuser or bypass_rls:
        raise RoleError(f"The portal's role {role!r} is a superuser or bypasses row security: no privilege limits it.")
    cursor.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace AND pg_get_userbyid(relowner) = %s "
        "ORDER BY relname",
        [connection.ops.quote_name(schema), role],
    )
    owned = [name for (name,) in cursor.fetchall()]
    if owned:
        raise RoleError(
            f"The portal's role {role!r} owns {len(owned)} objects, e.g. {', '.join(owned[:3])}; as an administrator "
            f"run REASSIGN OWNED BY {role} TO {owner}, then migrate again."
        )
