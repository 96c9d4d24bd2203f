"""Two database roles (ip2a/dbroles.py, deploy/db-roles.sh): the portal's role reads and writes rows, only appends
to the history and the access log, and owns nothing; the owner migrates, seeds and restores.

One fresh database on the test server, set up as a deployment does it: deploy/db-roles.sh, then `manage.py migrate`
and `seed` in subprocesses with DATABASE_URL naming the portal's role and DATABASE_OWNER_URL the owner. The checks
connect as each role with psycopg. Roles are cluster-wide and other suites share the server, so every name here
comes from this suite's test database name.
"""

import json
import os
import subprocess
import sys
from types import SimpleNamespace
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from psycopg import errors, sql

from ip2a.backup import BackupError, pg_tool
from ip2a.dbroles import append_only_tables
from ip2a.management.commands.restore import Command as RestoreCommand

SERVER = settings.DATABASES["default"]
BASE = SERVER["TEST"]["NAME"] or "test_ip2a"
OWNER, APP, DATABASE = f"{BASE}_owner", f"{BASE}_app", f"{BASE}_roles"
GROUP = f"{BASE}_group"  # a group role the portal's role is made to join
PASSWORDS = {OWNER: "owner-password-1", APP: "app-password-1"}
# The session setting pgtrigger's ignore() sets, which its triggers obey; any role may set it.
IGNORE_SETTING = "pgtrigger.ignore"
# (table, a column to "change") of an event table and the access log.
APPEND_ONLY = [("members_memberevent", "pgh_label"), ("audit_accesslog", "path")]
# Environment variables of this process that must not reach the subprocesses.
OWN_ENVIRONMENT = {"DATABASE_URL", "DATABASE_OWNER_URL", "IP2A_TEST_DATABASE", "CACHE_URL", "ATTACHMENTS_DIR"}

# Run in `manage.py shell` as the portal's role alone: sign-in (a failure, then success), the main pages, an
# export, the admin, a member created through the portal's form and changed through a service, sign-out.
PORTAL_SCRIPT = """
import json, os
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse
from audit.history import history_context
from audit.models import AccessLog, LoginFailure
from members.forms import MemberForm
from members.models import Member
from members.services import member_change_status

client, out = Client(), {}
out["bad_login"] = client.post(reverse("login"), {"username": "e2e", "password": "wrong"}).status_code
out["failures"] = LoginFailure.objects.count()
out["login"] = client.post(reverse("login"), {"username": "e2e", "password": os.environ["E2E_PASSWORD"]}).status_code
out["failures_after"] = LoginFailure.objects.count()
member = Member.objects.order_by("pk").first()
logged = AccessLog.objects.count()
pages = {
    "dashboard": reverse("dashboard"),
    "members": reverse("members:member_list"),
    "member": member.get_absolute_url(),
    "export": reverse("members:member_list") + "?export=csv",
    "audit": "/audit/",
    "admin": reverse("admin:auth_user_changelist"),
}
out["pages"] = {name: client.get(path).status_code for name, path in pages.items()}
out["logged"] = AccessLog.objects.count() - logged
data = {k: v for k, v in model_to_dict(member, fields=MemberForm._meta.fields).items() if v is not None}
out["create"] = client.post(reverse("members:member_create"), data | {"member_number": "98765432"}).status_code
created = Member.objects.get(member_number="98765432")
with history_context(source="shell", reason="roles test"):
    member_change_status(member=created, status="suspended", reason="roles test")
out["events"] = list(created.events.order_by("pgh_id").values_list("pgh_label", flat=True))
out["logout"] = client.post(reverse("logout")).status_code
print(json.dumps(out))
"""


def connect(user=None, dbname=DATABASE):
    """An autocommit connection to the test server as ``user`` (default: the suite's own superuser)."""
    return psycopg.connect(
        host=SERVER["HOST"] or None,
        port=SERVER["PORT"] or None,
        user=user or SERVER["USER"],
        password=PASSWORDS.get(user, SERVER["PASSWORD"]) or None,
        dbname=dbname,
        autocommit=True,
    )


def url(role):
    return f"postgresql://{role}:{PASSWORDS[role]}@/{DATABASE}?host={quote(SERVER['HOST'])}&port={SERVER['PORT']}"


def manage(env, *args, **extra):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env | extra,
        capture_output=True,
        text=True,
        timeout=300,
    )


def drop_all(admin):
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))
    admin.execute(sql.SQL("DROP ROLE IF EXISTS {}, {}, {}").format(*map(sql.Identifier, (GROUP, APP, OWNER))))


def app_privileges() -> list[tuple[str, str]]:
    """(relation, privilege) of every privilege the portal's role holds in the public schema, plus its schema ones."""
    with connect() as admin:
        rows = admin.execute(
            "SELECT c.relname, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a "
            "WHERE c.relnamespace = 'public'::regnamespace AND a.grantee = %s::regrole ORDER BY 1, 2",
            [APP],
        ).fetchall()
        schema = admin.execute(
            "SELECT privilege FROM unnest(ARRAY['USAGE', 'CREATE']) AS privilege "
            "WHERE has_schema_privilege(%s, 'public', privilege) ORDER BY 1",
            [APP],
        ).fetchall()
    return rows + [("schema public", privilege) for (privilege,) in schema]


def owners() -> set[str]:
    with connect() as admin:
        rows = admin.execute(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        ).fetchall()
    return {owner for (owner,) in rows}


def change_as(conn, statement, *, ignore_triggers_of=None):
    """Run ``statement`` in a transaction that is rolled back, with pgtrigger's switch set for the triggers of
    ``ignore_triggers_of`` (a table) first, as pgtrigger's ignore() would; return the affected row count."""
    with conn.transaction(force_rollback=True):
        if ignore_triggers_of:
            names = conn.execute(
                "SELECT '{' || string_agg(tgname, ',') || '}' FROM pg_trigger WHERE tgrelid = %s::regclass "
                "AND NOT tgisinternal",
                [ignore_triggers_of],
            ).fetchone()[0]
            conn.execute("SELECT set_config(%s, %s, true)", [IGNORE_SETTING, names])
        return conn.execute(statement).rowcount


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """The fresh database, its roles, migrated and seeded as the owner; a history event and an access log row
    written by the portal's role."""
    with connect(dbname="postgres") as admin:
        if not admin.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
            pytest.skip("creating roles and databases needs the test server's superuser")
        drop_all(admin)  # what an interrupted run left
    try:
        psql = pg_tool("psql")
    except BackupError as exc:
        pytest.skip(str(exc))
    folder = tmp_path_factory.mktemp("db-roles")
    env = {key: value for key, value in os.environ.items() if key not in OWN_ENVIRONMENT} | {
        "PATH": f"{os.path.dirname(psql)}{os.pathsep}{os.environ.get('PATH', '')}",  # the server's own client tools
        "IP2A_ENV": "test",
        "DATABASE_URL": url(APP),
        "DATABASE_OWNER_URL": url(OWNER),
        "CACHE_URL": f"file://{folder / 'cache'}",
        "ATTACHMENTS_DIR": str(folder / "attachments"),
        "ALLOWED_HOSTS": "testserver",
    }
    script_env = env | {
        "PGHOST": SERVER["HOST"],
        "PGPORT": str(SERVER["PORT"]),
        "PGUSER": SERVER["USER"],
        "PGPASSWORD": SERVER["PASSWORD"],
        "IP2A_DB_NAME": DATABASE,
        "IP2A_DB_OWNER": OWNER,
        "IP2A_DB_OWNER_PASSWORD": PASSWORDS[OWNER],
        "IP2A_DB_APP": APP,
        "IP2A_DB_APP_PASSWORD": PASSWORDS[APP],
    }
    script = [str(settings.BASE_DIR / "deploy" / "db-roles.sh")]
    try:
        roles = subprocess.run(script, env=script_env, capture_output=True, text=True, timeout=60)
        assert roles.returncode == 0, roles.stderr
        migrate = manage(env, "migrate")
        assert migrate.returncode == 0, migrate.stderr
        seed = manage(env, "seed", "--quick", "--yes", "--no-files")
        assert seed.returncode == 0, seed.stderr
        with connect(APP) as app:
            app.execute("UPDATE members_member SET notes = 'seen' WHERE id = (SELECT min(id) FROM members_member)")
            app.execute("INSERT INTO audit_accesslog (action, path) VALUES ('view', '/members/')")
        yield SimpleNamespace(
            env=env, script=script, script_env=script_env, roles=roles, migrate=migrate, seed=seed, folder=folder
        )
    finally:
        with connect(dbname="postgres") as admin:
            drop_all(admin)


def test_setup_runs_the_script_then_migrates_and_seeds_as_the_owner(deployment):
    assert f'database "{DATABASE}" owned by "{OWNER}"' in deployment.roles.stdout
    granted = deployment.migrate.stdout.strip().splitlines()[-1]
    assert granted.startswith(f"Privileges of {APP}: read and write ")
    assert granted.endswith(
        f"read, add and update 1 (command log), read and append to {len(append_only_tables())} (history, access "
        "log), read 1."
    )
    # Switching the history triggers off with ALTER TABLE is the owner's: the seed ran as the owner.
    assert "History tracking off during the load (disabled)." in deployment.seed.stdout


def test_db_roles_script_is_idempotent_and_lets_only_the_app_role_connect(deployment):
    again = subprocess.run(deployment.script, env=deployment.script_env, capture_output=True, text=True, timeout=60)

    assert again.returncode == 0, again.stderr
    with connect() as admin:
        database = admin.execute(
            "SELECT pg_get_userbyid(datdba), has_database_privilege(%s, datname, 'CONNECT'), "
            "has_database_privilege(%s, datname, 'CREATE'), has_database_privilege(%s, datname, 'TEMP'), "
            "(SELECT count(*) FROM aclexplode(datacl) WHERE grantee = 0) FROM pg_database WHERE datname = %s",
            [APP, APP, APP, DATABASE],
        ).fetchone()
    assert database == (OWNER, True, False, False, 0)  # no privilege for PUBLIC


def test_db_roles_script_refuses_a_superuser_as_a_role(deployment):
    result = subprocess.run(
        deployment.script,
        env=deployment.script_env | {"IP2A_DB_APP": SERVER["USER"]},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 3
    assert f"db-roles.sh: {SERVER['USER']} is the administrator, a superuser" in result.stderr


def test_db_roles_script_refuses_a_role_whose_name_holds_dollar_quotes_and_format_codes(deployment):
    name = f"{BASE}_$$'%s"
    with connect(dbname="postgres") as admin:
        admin.execute(sql.SQL("CREATE ROLE {} SUPERUSER").format(sql.Identifier(name)))
    try:
        result = subprocess.run(
            deployment.script,
            env=deployment.script_env | {"IP2A_DB_APP": name},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        with connect(dbname="postgres") as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))

    assert result.returncode == 3
    assert f"ERROR:  db-roles.sh: {name} is the administrator, a superuser" in result.stderr


def test_owner_owns_every_relation(deployment):
    assert owners() == {OWNER}


def test_app_role_privileges_are_what_the_portal_needs(deployment):
    granted = {}
    for relation, privilege in app_privileges():
        granted.setdefault(relation, set()).add(privilege)

    assert granted["members_memberevent"] == {"SELECT", "INSERT"}
    assert granted["audit_accesslog"] == {"SELECT", "INSERT"}
    assert granted["audit_userevent"] == {"SELECT", "INSERT"}
    assert granted["members_member"] == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert granted["audit_loginfailure"] == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert granted["audit_commandrun"] == {"SELECT", "INSERT", "UPDATE"}  # a run records its result, stays
    assert granted["django_session"] == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert granted["django_migrations"] == {"SELECT"}
    assert granted["members_member_id_seq"] == {"USAGE", "SELECT"}
    assert granted["schema public"] == {"USAGE"}
    assert not any("TRUNCATE" in privileges for privileges in granted.values())


@pytest.mark.parametrize(("table", "column"), APPEND_ONLY)
@pytest.mark.parametrize("verb", ["UPDATE", "DELETE", "TRUNCATE"])
def test_app_role_cannot_change_history_even_with_the_trigger_switch(deployment, table, column, verb):
    statement = {
        "UPDATE": f"UPDATE {table} SET {column} = {column}",
        "DELETE": f"DELETE FROM {table}",
        "TRUNCATE": f"TRUNCATE {table}",
    }[verb]

    with connect(APP) as app:
        with pytest.raises(errors.InsufficientPrivilege, match=f"permission denied for table {table}"):
            change_as(app, statement)
        with pytest.raises(errors.InsufficientPrivilege, match=f"permission denied for table {table}"):
            change_as(app, statement, ignore_triggers_of=table)


@pytest.mark.parametrize(("table", "column"), APPEND_ONLY)
def test_the_trigger_switch_is_what_the_append_only_trigger_obeys(deployment, table, column):
    """The owner has the privileges, so only the trigger stops it, and the switch turns the trigger off: this is
    why the portal's role must not hold them."""
    statement = f"UPDATE {table} SET {column} = {column}"

    with connect(OWNER) as owner:
        with pytest.raises(errors.RaiseException, match=f"Cannot update or delete rows from {table}"):
            change_as(owner, statement)
        assert change_as(owner, statement, ignore_triggers_of=table) >= 1


def member_update_events(conn, *, ignore_triggers: bool) -> int:
    """Update one member in a transaction that is rolled back, with pgtrigger's switch set for every trigger of
    members_member or not; return how many events the update wrote."""
    with conn.transaction(force_rollback=True):
        if ignore_triggers:
            names = conn.execute(
                "SELECT '{' || string_agg(tgname, ',') || '}' FROM pg_trigger "
                "WHERE tgrelid = 'members_member'::regclass AND NOT tgisinternal"
            ).fetchone()[0]
            conn.execute("SELECT set_config(%s, %s, true)", [IGNORE_SETTING, names])
        before = conn.execute("SELECT count(*) FROM members_memberevent").fetchone()[0]
        conn.execute("UPDATE members_member SET notes = 'switch test' WHERE id = (SELECT min(id) FROM members_member)")
        return conn.execute("SELECT count(*) FROM members_memberevent").fetchone()[0] - before


def test_the_trigger_switch_skips_no_history_for_the_app_role(deployment):
    with connect(APP) as app:
        assert member_update_events(app, ignore_triggers=True) == 1


def test_the_trigger_switch_still_works_for_the_owner(deployment):
    """The seed relies on it when it cannot disable the triggers (ip2a/seed/loader.py)."""
    with connect(OWNER) as owner:
        assert member_update_events(owner, ignore_triggers=False) == 1
        assert member_update_events(owner, ignore_triggers=True) == 0


def append_backdated(conn, table, id_column, time_column):
    """Copy the table's first row with a new id and a time in 2001, in a transaction that is rolled back; return
    (the time stored, the transaction's time)."""
    with conn.transaction(force_rollback=True):
        return conn.execute(
            f"INSERT INTO {table} SELECT (jsonb_populate_record(t, jsonb_build_object("
            f"%s::text, nextval(pg_get_serial_sequence(%s, %s)), %s::text, '2001-02-03T04:05:06+00:00'::text))).* "
            f"FROM {table} t "
            f"WHERE {id_column} = (SELECT min({id_column}) FROM {table}) RETURNING {time_column}, now()",
            [id_column, table, id_column, time_column],
        ).fetchone()


@pytest.mark.parametrize(
    ("table", "id_column", "time_column"),
    [("members_memberevent", "pgh_id", "pgh_created_at"), ("audit_accesslog", "id", "created_at")],
)
def test_rows_the_app_role_appends_carry_the_time_of_their_transaction(deployment, table, id_column, time_column):
    with connect(APP) as app:
        stored, now = append_backdated(app, table, id_column, time_column)
    with connect(OWNER) as owner:
        stored_by_owner, _ = append_backdated(owner, table, id_column, time_column)

    assert stored == now
    assert stored_by_owner.year == 2001  # the owner may load old rows (and drop the trigger anyway)


def test_app_role_changes_domain_rows_and_appends_their_history(deployment):
    with connect(APP) as app:
        member_id = app.execute("SELECT max(id) FROM members_member").fetchone()[0]
        attendance_id = app.execute("SELECT min(id) FROM training_attendance").fetchone()[0]
        logged = app.execute("SELECT count(*) FROM audit_accesslog").fetchone()[0]

        app.execute("UPDATE members_member SET notes = 'changed by the app role' WHERE id = %s", [member_id])
        app.execute("DELETE FROM training_attendance WHERE id = %s", [attendance_id])
        app.execute("INSERT INTO audit_accesslog (action, path) VALUES ('export', '/members/')")

        member_events = app.execute(
            "SELECT pgh_label, notes FROM members_memberevent WHERE pgh_obj_id = %s ORDER BY pgh_id", [member_id]
        ).fetchall()
        attendance_events = app.execute(
            "SELECT pgh_label FROM training_attendanceevent WHERE pgh_obj_id = %s", [attendance_id]
        ).fetchall()
        assert app.execute("SELECT count(*) FROM audit_accesslog").fetchone()[0] == logged + 1
    assert member_events[-1] == ("update", "changed by the app role")
    assert attendance_events == [("delete",)]


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE members_member ADD COLUMN extra integer",
        "ALTER TABLE members_memberevent DISABLE TRIGGER ALL",
        "DROP TABLE audit_accesslog",
        "CREATE TABLE public.extra (id integer)",
        "CREATE SCHEMA extra",
        "SET session_replication_role = replica",
    ],
)
def test_app_role_owns_nothing_and_cannot_change_the_schema(deployment, statement):
    with connect(APP) as app, pytest.raises(errors.InsufficientPrivilege):
        change_as(app, statement)


def test_migrate_again_revokes_privileges_granted_by_hand(deployment):
    before = app_privileges()
    with connect() as admin:
        admin.execute(
            sql.SQL("GRANT UPDATE, DELETE, TRUNCATE ON members_memberevent TO {}").format(sql.Identifier(APP))
        )
        admin.execute(sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(sql.Identifier(APP)))
    assert app_privileges() != before

    result = manage(deployment.env, "migrate")

    assert result.returncode == 0, result.stderr
    assert app_privileges() == before


def test_migrate_refuses_an_app_role_that_can_act_as_the_owner(deployment):
    owner, app = sql.Identifier(OWNER), sql.Identifier(APP)
    with connect() as admin:
        admin.execute(sql.SQL("GRANT {} TO {}").format(owner, app))
    try:
        result = manage(deployment.env, "migrate")
    finally:
        with connect() as admin:
            admin.execute(sql.SQL("REVOKE {} FROM {}").format(owner, app))

    assert result.returncode == 1
    assert f"The portal's role '{APP}' can act as the owner '{OWNER}'" in result.stderr


# (SQL run as the superuser before migrate, SQL that undoes it, what migrate's refusal says). {app}, {owner},
# {group} and {database} are the suite's names; {group} is created before and dropped after.
REFUSALS = {
    "owns the database": (
        "ALTER DATABASE {database} OWNER TO {app}; GRANT CONNECT ON DATABASE {database} TO {owner}",
        # Ownership took over the role's CONNECT grant.
        "ALTER DATABASE {database} OWNER TO {owner}; GRANT CONNECT ON DATABASE {database} TO {app}",
        f"it owns the database {DATABASE}, and so its schema public (ALTER DATABASE",
    ),
    "may create roles": (
        "ALTER ROLE {app} CREATEROLE",
        "ALTER ROLE {app} NOCREATEROLE",
        "it may create roles, and so grant itself the owner's role",
    ),
    "writes every table": (
        "GRANT pg_write_all_data TO {app}",
        "REVOKE pg_write_all_data FROM {app}",
        "it belongs to pg_write_all_data, whatever the grants",
    ),
    "runs server programs": (
        "GRANT pg_execute_server_program TO {group}; GRANT {group} TO {app}",
        "",
        "it belongs to pg_execute_server_program, whatever the grants",
    ),
    "superuser through a group": (
        "ALTER ROLE {group} SUPERUSER; GRANT {group} TO {app}",
        "",
        f"it is a superuser through {GROUP}",
    ),
    "owns a function": (
        "CREATE FUNCTION public.roles_test() RETURNS integer LANGUAGE sql AS 'SELECT 1'; "
        "ALTER FUNCTION public.roles_test() OWNER TO {app}",
        "DROP FUNCTION public.roles_test()",
        "it owns 1 objects, e.g. function roles_test() (REASSIGN OWNED BY",
    ),
    "temporary tables through a group": (
        "GRANT TEMPORARY ON DATABASE {database} TO {group}; GRANT {group} TO {app}",
        "REVOKE ALL ON DATABASE {database} FROM {group}",
        f"it may create temporary tables in the database {DATABASE}, and one named like a history table takes its "
        f'place in the triggers (REVOKE TEMPORARY ON DATABASE "{DATABASE}" FROM {GROUP})',
    ),
    "history update through PUBLIC": (
        "GRANT UPDATE ON members_memberevent TO PUBLIC",
        "REVOKE UPDATE ON members_memberevent FROM PUBLIC",
        "it holds 1 privileges beyond its grants, e.g. UPDATE on members_memberevent (revoke them from PUBLIC)",
    ),
    "history column update through a group": (
        "GRANT UPDATE (pgh_label) ON members_memberevent TO {group}; GRANT {group} TO {app}",
        "REVOKE ALL ON members_memberevent FROM {group}",
        f"it holds 1 privileges beyond its grants, e.g. UPDATE on members_memberevent (revoke them from {GROUP})",
    ),
    "truncate through PUBLIC": (
        "GRANT TRUNCATE, TRIGGER ON members_member TO PUBLIC",
        "REVOKE TRUNCATE, TRIGGER ON members_member FROM PUBLIC",
        "it holds 2 privileges beyond its grants, e.g. TRIGGER on members_member, TRUNCATE on members_member",
    ),
    "schema of its own": (
        "CREATE SCHEMA roles_test; GRANT CREATE ON SCHEMA roles_test TO {group}; GRANT {group} TO {app}",
        "DROP SCHEMA roles_test",
        f'it may create objects in the schema roles_test (REVOKE CREATE ON SCHEMA "roles_test" FROM {GROUP})',
    ),
}


def run_as_superuser(statements, dbname=DATABASE):
    names = {
        "app": sql.Identifier(APP),
        "owner": sql.Identifier(OWNER),
        "group": sql.Identifier(GROUP),
        "database": sql.Identifier(DATABASE),
    }
    with connect(dbname=dbname) as admin:
        for statement in filter(None, (part.strip() for part in statements.split(";"))):
            admin.execute(sql.SQL(statement).format(**names))


@pytest.fixture
def group_role():
    with connect() as admin:
        admin.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(GROUP)))
    yield
    with connect() as admin:
        admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(GROUP)))  # its privileges, in this database
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(GROUP)))


@pytest.mark.parametrize("case", REFUSALS)
def test_migrate_refuses_an_app_role_that_could_get_around_its_privileges(deployment, group_role, case):
    setup, undo, message = REFUSALS[case]
    before = app_privileges()
    run_as_superuser(setup)
    try:
        result = manage(deployment.env, "migrate")
    finally:
        run_as_superuser(undo)

    assert result.returncode == 1
    assert f"The portal's role '{APP}' (DATABASE_URL) could get around its privileges: " in result.stderr
    assert message in result.stderr
    assert app_privileges() == before  # the refusal changed nothing


def test_migrate_takes_temporary_tables_from_public(deployment):
    run_as_superuser("GRANT TEMPORARY ON DATABASE {database} TO PUBLIC")

    result = manage(deployment.env, "migrate")

    assert result.returncode == 0, result.stderr
    with connect() as admin:
        assert admin.execute(
            "SELECT has_database_privilege(%s, current_database(), 'TEMPORARY')", [APP]
        ).fetchone() == (False,)


def test_restore_refuses_before_changing_anything_when_the_grants_would_be_refused(deployment):
    backup = deployment.folder / "backup-refused"
    assert manage(deployment.env, "backup", "--output", str(backup)).returncode == 0
    with connect(APP) as app:  # a row the backup lacks: a restore would remove it
        app.execute("INSERT INTO audit_accesslog (action, path) VALUES ('view', '/after-the-backup/')")
    run_as_superuser("ALTER ROLE {app} CREATEROLE")
    try:
        result = manage(deployment.env, "restore", str(backup), "--yes", "--no-integrity")
    finally:
        run_as_superuser("ALTER ROLE {app} NOCREATEROLE")

    assert result.returncode == 1
    assert f"Refusing to restore {backup}: The portal's role '{APP}'" in result.stderr
    assert "it may create roles" in result.stderr
    assert "Nothing changed (" in result.stderr
    with connect() as admin:
        assert admin.execute("SELECT count(*) FROM audit_accesslog WHERE path = '/after-the-backup/'").fetchone() == (
            1,
        )


def test_restore_fails_when_the_grants_after_the_reload_are_refused():
    """The grants run after psql committed the reload, so their refusal cannot undo it: the run says so."""
    refusal = "The portal's role 'app' (DATABASE_URL) could get around its privileges: it may create roles."

    code, line, summary = RestoreCommand().finish("Restored b", {}, {}, True, ungranted=refusal)

    assert code == 1
    assert line == (
        f"Restored b; but the portal's role was not granted its privileges on the restored tables: {refusal} "
        "Until `manage.py migrate` grants them the portal cannot use the database"
    )
    assert summary["ungranted"] == refusal


def test_portal_runs_as_the_app_role_alone(deployment):
    env = {key: value for key, value in deployment.env.items() if key != "DATABASE_OWNER_URL"}
    password = "e2e-password-123"
    created = manage(
        env, "createsuperuser", "--noinput", "--username", "e2e", "--email", "e2e@example.org",
        DJANGO_SUPERUSER_PASSWORD=password,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr

    result = manage(env, "shell", "-c", PORTAL_SCRIPT, E2E_PASSWORD=password)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "bad_login": 200,
        "failures": 1,
        "login": 302,
        "failures_after": 0,  # a successful sign-in deletes the pair's failures
        "pages": {"dashboard": 200, "members": 200, "member": 200, "export": 200, "audit": 200, "admin": 200},
        "logged": 2,  # the member's page and the export
        "create": 302,
        "events": ["insert", "update"],
        "logout": 302,
    }


def test_destructive_commands_without_the_owner_say_what_to_set(deployment):
    env = {key: value for key, value in deployment.env.items() if key != "DATABASE_OWNER_URL"}

    result = manage(env, "reset", "--yes")

    assert result.returncode == 1
    assert "this needs the tables' owner; set DATABASE_OWNER_URL to the owner's login" in result.stderr


def test_backup_as_the_app_role_and_restore_as_the_owner_keep_the_roles_apart(deployment):
    before = app_privileges()
    backup = deployment.folder / "backup"

    backed_up = manage(deployment.env, "backup", "--output", str(backup))  # the portal's role reads everything
    restored = manage(deployment.env, "restore", str(backup), "--yes", "--no-integrity")

    assert backed_up.returncode == 0, backed_up.stderr
    assert restored.returncode == 0, restored.stderr
    assert owners() == {OWNER}
    assert app_privileges() == before
    with connect(APP) as app:  # the switch function that trusts only the owner is back
        assert member_update_events(app, ignore_triggers=True) == 1


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"DATABASE_OWNER_URL": "mysql://o@h/ip2a"}, "DATABASE_OWNER_URL must start with postgresql://"),
        ({"DATABASE_OWNER_URL": "postgresql://o@h/ip2a"}, "DATABASE_OWNER_URL needs a DATABASE_URL that names"),
        (
            {"DATABASE_URL": "postgresql://app@h/ip2a", "DATABASE_OWNER_URL": "postgresql://app@h/ip2a"},
            "DATABASE_OWNER_URL must name the owner role, another role than DATABASE_URL's",
        ),
        (
            {"DATABASE_URL": "postgresql://app@h/ip2a", "DATABASE_OWNER_URL": "postgresql://o@h/other"},
            "DATABASE_OWNER_URL and DATABASE_URL must name the same database",
        ),
    ],
)
def test_settings_refuse_an_owner_url_that_does_not_fit(environment, message):
    env = {key: value for key, value in os.environ.items() if key not in OWN_ENVIRONMENT} | {"IP2A_ENV": "test"}

    result = manage(env | environment, "check")

    assert result.returncode == 1
    assert message in result.stderr
