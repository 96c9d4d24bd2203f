import json

import pytest
from django.db import connections
from django.db.migrations.executor import MigrationExecutor


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
    assert response.json() == {"status": "ready", "database": "ok"}


@pytest.mark.django_db
def test_readyz_is_503_while_migrations_are_pending(client, monkeypatch):
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("migration", False)])

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "migrations pending"}


def test_readyz_is_503_when_the_database_is_unreachable(client, django_db_blocker, tmp_path):
    connection = connections["default"]
    original = dict(connection.settings_dict)
    with django_db_blocker.unblock():
        connection.close()
        # A socket folder with no server in it: the connection attempt fails at once.
        connection.settings_dict.update(HOST=str(tmp_path), PORT="5432")
        try:
            response = client.get("/readyz")
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(original)

    assert response.status_code == 503
    body = json.loads(response.content)
    assert body == {"status": "unavailable", "database": "unreachable"}
