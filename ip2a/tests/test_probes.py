import contextlib

import pytest
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

# A replica connection of its own, as in production: inside TestCase's transaction the replica is default's.
OWN_REPLICA = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def unreachable(alias, folder):
    """Point the connection ``alias`` at a socket folder with no server in it: connecting fails at once."""
    connection = connections[alias]
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST=str(folder), PORT="5432")
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)


@pytest.mark.django_db
def test_healthz_answers_without_login_or_details(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_readyz_reports_ready_when_database_and_migrations_are_fine(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok"}  # the replica is this same connection


@pytest.mark.django_db
def test_readyz_is_503_while_migrations_are_pending(client, monkeypatch):
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("migration", False)])

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "migrations pending"}


@OWN_REPLICA
def test_readyz_checks_the_replica_too(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "replica": "ok"}


@OWN_REPLICA
def test_readyz_is_503_when_the_database_is_unreachable(client, tmp_path):
    with unreachable("default", tmp_path):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable", "replica": "ok"}


@OWN_REPLICA
def test_readyz_stays_ready_naming_the_replica_when_it_is_unreachable(client, tmp_path):
    """Pages read from the primary while the replica is down, so the host stays in the load balancer."""
    with unreachable("replica", tmp_path):
        response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "replica": "unreachable"}


@OWN_REPLICA
def test_read_only_pages_read_from_the_primary_while_the_replica_is_down(client, make_user, tmp_path, caplog):
    from django.test.utils import CaptureQueriesContext

    from members.factories import MemberFactory

    member = MemberFactory(last_name="Primaryread")
    client.force_login(make_user("staff"))
    with unreachable("replica", tmp_path), CaptureQueriesContext(connections["default"]) as primary:
        response = client.get(f"/members/{member.pk}/")

    assert response.status_code == 200
    assert "Primaryread" in response.content.decode()
    assert any('FROM "members_member"' in query["sql"] for query in primary.captured_queries)
    assert "The read replica is unreachable" in caplog.text
