"""The read replica (ip2a/routers.py): which alias each read and write goes to, the browser's pin to the primary
after a write, and the settings.

Tests configure `replica` as a mirror of the test database. Tests inside a transaction (most tests here, and
of the suite) see it through default's connection (conftest.py), so a row's alias (``_state.db``) is what
shows the router's choice. The transactional tests (REPLICA_CONNECTION) commit their rows and keep a replica
connection of its own, as production has: they see which statements each connection ran, and can make the
replica lag by holding its connection on an old snapshot.
"""

import json
import os
import re
import subprocess
import sys
import time

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.contrib.sessions.models import Session
from django.db import connections, router, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AccessLog, TrackedUser
from ip2a import routers
from ip2a.caching import sql_tables
from ip2a.routers import PIN_COOKIE, pinned_to_primary, replica_reads
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member
from members.views import MemberDetailView

pytestmark = pytest.mark.django_db
REPLICA_CONNECTION = pytest.mark.django_db(transaction=True)
DOMAIN_APPS = ("members", "organizations", "training", "attachments")
WRITE_STATEMENT = re.compile(r"\s*(INSERT|UPDATE|DELETE|MERGE|CREATE|ALTER|DROP|TRUNCATE|LOCK|SET)\b")


def every_model():
    return apps.get_models(include_auto_created=True)


def member_data(member, **changes) -> dict:
    """The member form's fields, as the edit page would post them."""
    fields = ("member_number", "first_name", "last_name", "classification", "status")
    return {name: getattr(member, name) for name in fields} | changes


def pin(client, seconds: int) -> None:
    """Give the test client the pin cookie a write leaves, running out ``seconds`` from now (negative: gone)."""
    client.cookies[PIN_COOKIE] = str(int(time.time()) + seconds)


# --- The router ----------------------------------------------------------------------------------------------


def test_every_write_goes_to_default_even_on_a_read_only_page():
    with replica_reads():
        aliases = {router.db_for_write(model) for model in every_model()}
        member = MemberFactory()
        Member.objects.filter(pk=member.pk).update(first_name="Updated")

    assert aliases == {"default"}
    assert member._state.db == "default"
    assert Member.objects.get(pk=member.pk).first_name == "Updated"


def test_reads_outside_a_read_only_page_go_to_default():
    member = MemberFactory()

    assert {router.db_for_read(model) for model in every_model()} == {"default"}
    assert Member.objects.get(pk=member.pk)._state.db == "default"


def test_reads_on_a_read_only_page_go_to_the_replica_but_sessions_and_permissions_to_default():
    member = MemberFactory()

    with replica_reads():
        loaded = Member.objects.get(pk=member.pk)
        event_alias = router.db_for_read(Member.pgh_event_model)
        auth_aliases = {router.db_for_read(model) for model in (User, Group, Permission, Session, TrackedUser)}

    assert (loaded._state.db, event_alias) == ("replica", "replica")
    assert auth_aliases == {"default"}  # a revoked permission or ended session must not wait for the replica


def test_reads_inside_a_transaction_go_to_default_even_on_a_read_only_page():
    member = MemberFactory()

    with replica_reads():
        with transaction.atomic():
            inside = Member.objects.get(pk=member.pk)
            nested_alias = router.db_for_read(Member)
        after = Member.objects.get(pk=member.pk)

    assert (inside._state.db, nested_alias) == ("default", "default")
    assert after._state.db == "replica"


@REPLICA_CONNECTION
def test_reads_inside_a_transaction_go_to_default_outside_a_test_case_transaction_too():
    # No TestCase transaction around this test: the router's own test of "inside a transaction" is the one at work.
    member = MemberFactory()

    with replica_reads():
        outside = Member.objects.get(pk=member.pk)
        with transaction.atomic():
            inside = Member.objects.get(pk=member.pk)

    assert (outside._state.db, inside._state.db) == ("replica", "default")
    assert not routers.in_write_transaction()


def test_rows_read_from_the_replica_can_be_related_to_rows_written_to_default():
    member = MemberFactory()
    with replica_reads():
        from_replica = Member.objects.get(pk=member.pk)

    job = MemberEmploymentFactory(member=from_replica)

    assert job._state.db == "default"
    assert job.member_id == member.pk


def test_migrations_run_only_on_default():
    assert router.allow_migrate("default", "members")
    assert not router.allow_migrate("replica", "members")


def test_pin_cookie_pins_only_until_its_time(rf):
    def request(value):
        return rf.get("/", HTTP_COOKIE=f"{PIN_COOKIE}={value}")

    assert pinned_to_primary(request(int(time.time()) + 60))
    assert not pinned_to_primary(request(int(time.time()) - 1))
    assert not pinned_to_primary(request("not-a-number"))
    assert not pinned_to_primary(rf.get("/"))


# --- Pages through the test client (replica seen through default's connection) ------------------------------


def test_list_page_reads_its_rows_through_the_replica(admin_client):
    MemberFactory(last_name="Zeller")

    response = admin_client.get(reverse("members:member_list"))

    rows = list(response.context["object_list"])
    assert [member.last_name for member in rows] == ["Zeller"]
    assert rows[0]._state.db == "replica"


def test_record_page_reads_the_record_through_the_replica(admin_client):
    member = MemberFactory()

    response = admin_client.get(reverse("members:member_detail", args=[member.pk]))

    assert response.context["object"]._state.db == "replica"


def test_head_of_a_record_page_reads_the_record_through_the_replica(admin_client):
    member = MemberFactory()

    response = admin_client.head(reverse("members:member_detail", args=[member.pk]))

    assert (response.status_code, response.content) == (200, b"")
    assert response.context["object"]._state.db == "replica"


def test_after_a_read_only_page_fails_the_next_request_reads_from_default(admin_client, monkeypatch):
    member = MemberFactory()
    failed_on = []

    def fail(view, **kwargs):
        failed_on.append(view.object._state.db)
        raise RuntimeError("the page failed while rendering")

    monkeypatch.setattr(MemberDetailView, "get_context_data", fail)

    with pytest.raises(RuntimeError, match="the page failed"):
        admin_client.get(reverse("members:member_detail", args=[member.pk]))
    form = admin_client.get(reverse("members:member_update", args=[member.pk]))

    assert failed_on == ["replica"]
    # The failed page's replica reads ended with it: the next page, and reads outside any page, use default.
    assert form.context["object"]._state.db == "default"
    assert Member.objects.get(pk=member.pk)._state.db == "default"


def test_pages_that_are_not_read_only_read_from_default(admin_client):
    member = MemberFactory()

    response = admin_client.get(reverse("members:member_update", args=[member.pk]))

    assert response.context["object"]._state.db == "default"


def test_a_post_pins_the_browser_to_default_for_the_pin_seconds(admin_client, settings):
    settings.DATABASE_REPLICA_PIN_SECONDS = 10
    member = MemberFactory()

    response = admin_client.post(
        reverse("members:member_update", args=[member.pk]), member_data(member, first_name="Renamed")
    )
    pinned = admin_client.get(response["Location"])
    pin(admin_client, -1)  # the pin ran out
    unpinned = admin_client.get(response["Location"])

    assert response.status_code == 302
    assert response.cookies[PIN_COOKIE]["max-age"] == 10
    assert (pinned.context["object"].first_name, pinned.context["object"]._state.db) == ("Renamed", "default")
    assert unpinned.context["object"]._state.db == "replica"


def test_no_pin_when_pin_seconds_is_zero(admin_client, settings):
    settings.DATABASE_REPLICA_PIN_SECONDS = 0
    member = MemberFactory()

    response = admin_client.post(reverse("members:member_update", args=[member.pk]), member_data(member))

    assert response.status_code == 302
    assert PIN_COOKIE not in response.cookies


def test_a_read_only_page_sets_no_pin(admin_client):
    response = admin_client.get(reverse("members:member_list"))

    assert PIN_COOKIE not in response.cookies


# --- Pages with a replica connection of its own, as in production ----------------------------------------------


def domain_tables() -> set[str]:
    """The tables of the portal's records and their history."""
    return {model._meta.db_table for model in every_model() if model._meta.app_label in DOMAIN_APPS}


def writes(sql: str) -> bool:
    """Whether a statement writes or locks rows."""
    return bool(WRITE_STATEMENT.match(sql)) or " FOR UPDATE" in sql or " FOR NO KEY UPDATE" in sql


def statements(capture) -> list[str]:
    return [query["sql"] for query in capture.captured_queries]


def tables_read(sqls) -> set[str]:
    return set().union(*(sql_tables(sql) for sql in sqls))


def get_per_alias(client, url, data=None):
    """The response and the statements run on default and on the replica while it was made."""
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections["replica"]) as replica,
    ):
        response = client.get(url, data or {})
    return response, statements(primary), statements(replica)


@pytest.fixture
def lagging_replica(db):
    """Call to freeze what the replica shows, as a replica that stops replaying would: its connection reads
    from one REPEATABLE READ snapshot until the test ends (then it is closed, releasing its locks before the
    test's tables are emptied)."""
    replica = connections["replica"]

    def freeze():
        replica.ensure_connection()
        replica.set_autocommit(False)
        with replica.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SELECT 1")  # the snapshot is taken here

    yield freeze
    replica.close()


PAGES = {
    "member list": (lambda member: reverse("members:member_list"), {}, "members_member"),
    "member export": (lambda member: reverse("members:member_list"), {"export": "csv"}, "members_member"),
    "member page": (lambda member: reverse("members:member_detail", args=[member.pk]), {}, "members_member"),
    "search": (lambda member: reverse("search"), {"q": "Zeller"}, "members_member"),
    "dashboard": (lambda member: reverse("dashboard"), {}, "members_member"),
    "history log": (lambda member: reverse("audit:history_list"), {}, "members_memberevent"),
    "student list": (lambda member: reverse("training:student_list"), {}, "training_student"),
}


@REPLICA_CONNECTION
@pytest.mark.parametrize("page", PAGES)
def test_read_only_pages_read_every_record_and_version_from_the_replica(admin_client, page):
    url, data, table = PAGES[page]
    member = MemberFactory(last_name="Zeller")

    response, primary, replica = get_per_alias(admin_client, url(member), data)

    assert response.status_code == 200
    assert table in tables_read(replica)
    assert not [sql for sql in replica if writes(sql)]
    # default answers only for the session, the user and their permissions (and logs accesses).
    assert not tables_read(primary) & domain_tables()


@REPLICA_CONNECTION
def test_member_page_logs_the_view_on_default(admin_client):
    member = MemberFactory()

    response, primary, replica = get_per_alias(admin_client, reverse("members:member_detail", args=[member.pk]))

    assert response.status_code == 200
    assert [sql for sql in primary if 'INSERT INTO "audit_accesslog"' in sql]  # after pghistory's set_config
    assert "members_memberevent" in tables_read(replica)  # the body's data versions: where the body is read
    assert AccessLog.objects.filter(action="view", target_id=member.pk).count() == 1


@REPLICA_CONNECTION
def test_a_form_page_reads_and_writes_only_on_default(admin_client):
    member = MemberFactory()
    url = reverse("members:member_update", args=[member.pk])

    with CaptureQueriesContext(connections["replica"]) as replica:
        page = admin_client.get(url)
        response = admin_client.post(url, member_data(member, first_name="Renamed"))

    assert (page.status_code, response.status_code) == (200, 302)
    assert statements(replica) == []
    assert Member.objects.get(pk=member.pk).first_name == "Renamed"


@REPLICA_CONNECTION
def test_after_a_write_the_browser_sees_its_change_while_the_replica_lags(admin_client, lagging_replica):
    member = MemberFactory(first_name="Before")
    url = reverse("members:member_detail", args=[member.pk])
    lagging_replica()

    response = admin_client.post(
        reverse("members:member_update", args=[member.pk]), member_data(member, first_name="After")
    )
    pinned, _, pinned_on_replica = get_per_alias(admin_client, url)
    pin(admin_client, -1)  # the pin ran out; the replica still lags
    unpinned = admin_client.get(url)

    assert response.status_code == 302
    assert pinned.context["object"].first_name == "After"
    assert pinned_on_replica == []
    assert unpinned.context["object"].first_name == "Before"


@REPLICA_CONNECTION
def test_a_lagging_replica_never_stores_old_rows_under_newer_versions(admin_client, lagging_replica):
    member = MemberFactory(last_name="Oldname")
    lagging_replica()
    Member.objects.filter(pk=member.pk).update(last_name="Newname")  # committed on default, not yet replayed
    url = reverse("members:member_list")

    for _ in range(2):  # asked twice: the second rendering is kept in the shared cache (ip2a.caching.keep)
        lagging = admin_client.get(url)
    pin(admin_client, 60)
    pinned = admin_client.get(url)

    assert "Oldname" in lagging.content.decode()
    # Versions read on the lagging replica key its old rows; the primary's newer versions find nothing kept.
    assert "Newname" in pinned.content.decode()
    assert "Oldname" not in pinned.content.decode()


# --- Settings --------------------------------------------------------------------------------------------------

DEPLOYED_ENV = {
    "IP2A_ENV": "production",
    "SECRET_KEY": "x" * 50,
    "DATABASE_URL": "postgresql://ip2a:secret@db.internal:5432/ip2a",
    "ALLOWED_HOSTS": "ip2a.example.org",
}
SHOW_SETTINGS = (
    "import json; from ip2a import settings as s; print(json.dumps({'databases': s.DATABASES, "
    "'routers': getattr(s, 'DATABASE_ROUTERS', []), 'last_middleware': s.MIDDLEWARE[-1], "
    "'pin': s.DATABASE_REPLICA_PIN_SECONDS}, default=str))"
)


def load_settings(**env):
    """Import the settings in a new process with only these variables set (besides the system's)."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "IP2A_"))}
    return subprocess.run(
        [sys.executable, "-c", SHOW_SETTINGS],
        cwd=settings.BASE_DIR,
        env=clean | DEPLOYED_ENV | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_replica_url_configures_the_replica_the_router_and_the_middleware():
    result = load_settings(
        DATABASE_REPLICA_URL="postgresql://ip2a:secret@replica.internal:5432/ip2a?sslmode=require",
        DATABASE_REPLICA_PIN_SECONDS="5",
    )

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    replica = shown["databases"]["replica"]
    assert (replica["HOST"], replica["NAME"]) == ("replica.internal", "ip2a")
    assert replica["OPTIONS"] == {"sslmode": "require"}
    assert (replica["CONN_MAX_AGE"], replica["CONN_HEALTH_CHECKS"]) == (60, True)
    assert replica["TEST"] == {"MIRROR": "default"}
    assert shown["routers"] == ["ip2a.routers.PrimaryReplicaRouter"]
    assert shown["last_middleware"] == "ip2a.routers.ReplicaMiddleware"
    assert shown["pin"] == 5


def test_without_replica_url_there_is_no_replica_and_no_router():
    result = load_settings()

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert list(shown["databases"]) == ["default"]
    assert shown["routers"] == []
    assert shown["last_middleware"] != "ip2a.routers.ReplicaMiddleware"


def test_a_bad_replica_url_is_refused_by_its_name():
    result = load_settings(DATABASE_REPLICA_URL="mysql://replica.internal/ip2a")

    assert result.returncode != 0
    assert "DATABASE_REPLICA_URL must start with postgresql://" in result.stderr


def test_tests_read_through_a_mirror_of_the_test_database():
    assert settings.DATABASES["replica"]["TEST"]["MIRROR"] == "default"
    assert settings.DATABASES["replica"]["NAME"] == settings.DATABASES["default"]["NAME"]
    assert settings.DATABASE_ROUTERS == ["ip2a.routers.PrimaryReplicaRouter"]


@REPLICA_CONNECTION
def test_a_streamed_history_export_reads_its_events_from_the_replica_after_the_view(admin_client):
    """The CSV is written after the view has returned (outside ReplicaMiddleware): its events still come from
    the replica, as the view's own reads did."""
    MemberFactory(last_name="Zeller")

    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections["replica"]) as replica,
    ):
        response = admin_client.get(reverse("audit:history_list"), {"export": "csv"})
        before_streaming = len(replica.captured_queries)
        text = b"".join(response.streaming_content).decode()

    assert "Zeller" in text
    assert "members_memberevent" in tables_read(statements(replica)[before_streaming:])
    assert not tables_read(statements(primary)) & domain_tables()
