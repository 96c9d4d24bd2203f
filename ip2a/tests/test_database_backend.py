"""The portal's database backend (ip2a/database/base.py): a quiet persistent connection passes the health check
without a statement; one the server ended fails it; anything else waiting on the socket gets Django's round trip.
The reads marked by prepared() are bound on the server and prepared once repeated; every other statement (the
writes that carry django-pghistory's context in front, the ORM's reads) is bound on the client, never prepared."""

import time

import pghistory
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import NotSupportedError, connection, connections

from ip2a.database.base import (
    PREPARE_THRESHOLD,
    DatabaseWrapper,
    has_input,
    is_prepared_read,
    prepare_threshold,
    prepared,
)
from ip2a.environment import database_from_url
from members.factories import MemberFactory
from members.models import Member

pytestmark = pytest.mark.django_db


@pytest.fixture
def spare():
    """A second connection to the test database, in autocommit like a request's."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def last_statement(pid: int) -> str:
    """What the backend ``pid`` ran last, as PostgreSQL reports it now (asked on the test's own connection, whose
    transaction would otherwise keep the first snapshot of pg_stat_activity it took)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row[0] if row else ""


def wait_for_input(wrapper, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not has_input(wrapper.connection.fileno()):
        assert time.monotonic() < deadline, "nothing arrived on the connection"
        time.sleep(0.01)


def test_both_ways_of_configuring_the_database_use_this_backend():
    assert settings.DATABASES["default"]["ENGINE"] == "ip2a.database"
    assert isinstance(connections["default"], DatabaseWrapper)
    assert database_from_url("postgresql://ip2a@db:5432/ip2a")["ENGINE"] == "ip2a.database"


def test_a_quiet_connection_is_usable_without_a_statement(spare):
    with spare.cursor() as cursor:
        cursor.execute("SELECT 'the last statement before the check'")
    pid = spare.connection.info.backend_pid
    assert spare.is_usable() is True
    assert last_statement(pid) == "SELECT 'the last statement before the check'"  # no SELECT 1 was sent
    spare.health_check_enabled, spare.health_check_done = True, False
    spare.close_if_health_check_failed()  # what Django runs before a request's first query
    assert spare.connection is not None
    assert last_statement(pid) == "SELECT 'the last statement before the check'"


def test_a_connection_the_server_ended_is_not_usable_and_django_reconnects(spare):
    old_pid = spare.connection.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [old_pid])
        assert cursor.fetchone() == (True,)
    wait_for_input(spare)  # the server's goodbye has reached the socket
    assert spare.is_usable() is False
    spare.health_check_enabled, spare.health_check_done = True, False
    spare.close_if_health_check_failed()
    assert spare.connection is None
    with spare.cursor() as cursor:  # a new connection, as the next request would get
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != old_pid


def test_anything_else_waiting_on_the_socket_gets_djangos_round_trip(spare):
    with spare.cursor() as cursor:
        cursor.execute("LISTEN ip2a_backend_test")
    pid = spare.connection.info.backend_pid
    sender = connections.create_connection("default")
    try:
        with sender.cursor() as cursor:  # autocommit: delivered at once
            cursor.execute("NOTIFY ip2a_backend_test")
    finally:
        sender.close()
    wait_for_input(spare)
    assert spare.is_usable() is True
    assert last_statement(pid) == "SELECT 1"  # the notification made it ask the server


def test_a_closed_connection_is_not_usable(spare):
    spare.connection.close()
    assert spare.is_usable() is False


def prepared_statements(wrapper) -> list[str]:
    """The statements prepared on the wrapper's connection, as PostgreSQL lists them."""
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_read_run_repeatedly_is_prepared_and_answers_as_before(spare):
    answers = []
    with spare.cursor() as cursor:
        for offset in range(PREPARE_THRESHOLD + 2):
            cursor.execute(
                prepared("SELECT count(*) + %s, %s FROM django_content_type WHERE app_label = %s"),
                [offset, "label", "members"],
            )
            answers.append(cursor.fetchone())

    first_count = answers[0][0]
    assert answers == [(first_count + offset, "label") for offset in range(PREPARE_THRESHOLD + 2)]
    assert first_count > 0
    assert any("FROM django_content_type WHERE app_label = $3" in sql for sql in prepared_statements(spare))


def test_a_read_not_marked_is_never_prepared(spare):
    with spare.cursor() as cursor:
        for _ in range(PREPARE_THRESHOLD + 2):
            cursor.execute("SELECT count(*) FROM django_content_type WHERE app_label = %s", ["members"])

    assert not [sql for sql in prepared_statements(spare) if "app_label" in sql]


def test_writes_carrying_the_history_context_are_bound_on_the_client_and_never_prepared():
    member = MemberFactory()
    with pghistory.context(probe="ip2a.database"):
        for index in range(PREPARE_THRESHOLD + 2):
            Member.objects.filter(pk=member.pk).update(first_name=f"Renamed{index}")

    updates = Member.pgh_event_model.objects.filter(pgh_obj_id=member.pk, pgh_label="update")
    contexts = list(updates.values_list("pgh_context_id", flat=True))
    # Each write ran with the context statement in front of it: every event names the one context.
    assert len(contexts) == PREPARE_THRESHOLD + 2
    assert len(set(contexts)) == 1
    assert contexts[0] is not None
    assert not [sql for sql in prepared_statements(connection) if "UPDATE" in sql or "set_config" in sql]


def test_only_a_single_marked_select_is_prepared():
    assert is_prepared_read(prepared("SELECT 1"))
    assert is_prepared_read(prepared("  select id FROM members_member WHERE id = %s").encode())
    assert not is_prepared_read("SELECT 1")
    assert not is_prepared_read(prepared("SELECT set_config('pghistory.context_id', %s, true); UPDATE t SET x = 1"))
    assert not is_prepared_read(prepared("WITH moved AS (DELETE FROM t RETURNING id) SELECT id FROM moved"))
    assert not is_prepared_read(prepared("INSERT INTO audit_accesslog (action) VALUES (%s)"))


def test_database_url_may_set_or_turn_off_preparing():
    assert prepare_threshold({}) == PREPARE_THRESHOLD
    assert prepare_threshold(database_from_url("postgresql://ip2a@db/ip2a?prepare_threshold=2")["OPTIONS"]) == 2
    assert prepare_threshold(database_from_url("postgresql://ip2a@db/ip2a?prepare_threshold=none")["OPTIONS"]) is None
    with pytest.raises(ImproperlyConfigured, match="prepare_threshold must be a whole number or none"):
        prepare_threshold({"prepare_threshold": "often"})


@pytest.fixture
def scratch_table(spare):
    """A table of the test's own, committed (made on the spare connection, in autocommit), dropped afterwards."""
    with spare.cursor() as cursor:
        cursor.execute("CREATE TABLE ip2a_prepare_probe (id integer PRIMARY KEY, label varchar(10))")
        cursor.execute("INSERT INTO ip2a_prepare_probe VALUES (1, 'first')")
    yield "ip2a_prepare_probe"
    with spare.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS ip2a_prepare_probe")


def change_column_type_elsewhere() -> None:
    """What `migrate` does to a column in another process: its type changes under the prepared reads."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("ALTER TABLE ip2a_prepare_probe ALTER COLUMN label TYPE varchar(20)")
    finally:
        other.close()


def test_a_prepared_read_still_answers_after_its_columns_change_type(spare, scratch_table):
    read = prepared("SELECT id, label FROM ip2a_prepare_probe WHERE id = %s")
    with spare.cursor() as cursor:
        for _ in range(PREPARE_THRESHOLD + 1):
            cursor.execute(read, [1])
        assert any("ip2a_prepare_probe" in sql for sql in prepared_statements(spare))

        change_column_type_elsewhere()  # PostgreSQL now refuses the prepared plan: its result type changed

        cursor.execute(read, [1])
        assert cursor.fetchone() == (1, "first")
        for _ in range(PREPARE_THRESHOLD + 1):  # prepared again, with the new type
            cursor.execute(read, [1])
            assert cursor.fetchone() == (1, "first")
    assert any("ip2a_prepare_probe" in sql for sql in prepared_statements(spare))


def test_a_prepared_read_refused_in_a_transaction_lets_the_next_transaction_read(spare, scratch_table):
    read = prepared("SELECT id, label FROM ip2a_prepare_probe WHERE id = %s")
    with spare.cursor() as cursor:
        for _ in range(PREPARE_THRESHOLD + 1):
            cursor.execute(read, [1])
    change_column_type_elsewhere()

    # Inside a transaction the refused statement has aborted it: nothing can be asked again there, so the error
    # goes to the caller, and the rollback forgets the prepared statements.
    spare.set_autocommit(False)  # as transaction.atomic() begins on this connection
    with pytest.raises(NotSupportedError, match="cached plan must not change result type"), spare.cursor() as cursor:
        cursor.execute(read, [1])
    spare.rollback()  # as atomic() ends on an error
    spare.set_autocommit(True)
    with spare.cursor() as cursor:
        cursor.execute(read, [1])
        assert cursor.fetchone() == (1, "first")
