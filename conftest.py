"""Fixtures any test may use: a fast password hasher, a clean shared cache, users holding each role."""

import pytest
from django.contrib.auth.models import Group, User

from ip2a.roles import ROLE_NAMES


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def attachments_dir(settings, tmp_path, monkeypatch):
    """Every test stores attachments in its own temporary folder, never in var/attachments."""
    from django.core.files.storage import storages

    from attachments.models import Attachment

    folder = tmp_path / "attachments"
    folder.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {**settings.STORAGES["attachments"], "OPTIONS": {"location": folder}},
    }
    settings.ATTACHMENTS_DIR = folder
    # FileField resolves its storage once, when the model class is built; point it at the new one.
    monkeypatch.setattr(Attachment._meta.get_field("file"), "storage", storages["attachments"])
    return folder


@pytest.fixture(autouse=True)
def imports_dir(settings, tmp_path):
    """Every test keeps uploaded import files waiting for confirmation in its own temporary folder."""
    settings.IMPORTS_DIR = tmp_path / "imports"
    return settings.IMPORTS_DIR


@pytest.fixture
def staff_client(client, make_user):
    """A test client signed in as "sam", who holds the staff role (the imports' tests)."""
    client.force_login(make_user("staff", username="sam"))
    return client


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session", autouse=True)
def _replica_allowed():
    """Tests configure `replica` as a mirror of the test database (ip2a/settings.py), so every page test goes
    through the router: every test may use it, live servers' threads included (Django allows only `default`
    unless a test names more)."""
    from django.conf import settings
    from django.test import TransactionTestCase

    if "replica" not in settings.DATABASES:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TransactionTestCase, "databases", {"default", "replica"})
        yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's, and at the end the replica's own connection closed before the test database is dropped.

    Django's TestCase opens its transaction on every alias a test may use, the mirror included, which connects
    it. pytest-django skips TestCase's class teardown, which would close it, and only default's connection is
    closed before the drop: a run of TestCase tests alone (no transactional test closing every connection after
    it) would end with "database … is being accessed by other users" and leave the test database behind."""
    from django.db import connections

    yield
    if "replica" in connections.settings:
        with django_db_blocker.unblock():
            connections["replica"].close()


def _in_write_transaction_of_the_test() -> bool:
    """ip2a.routers.in_write_transaction() for a test inside Django's TestCase transaction: the blocks TestCase
    opens do not count (as for Django's own durable check), so the test sees the router as production does."""
    from django.db import DEFAULT_DB_ALIAS, connections

    return any(not block._from_testcase for block in connections[DEFAULT_DB_ALIAS].atomic_blocks)


@pytest.fixture(autouse=True)
def _replica_through_default(request):
    """A mirror is a connection of its own, which cannot see the rows a test writes inside the transaction
    Django's TestCase wraps it in: for such a test the alias is given default's connection in the test's thread,
    and the router leaves that transaction out of its "inside a transaction" test (a private flag of Django's,
    read here so that production code never does). Transactional tests commit their rows and keep the replica's
    own connection and the router's own test, as production has."""
    from django.db import DEFAULT_DB_ALIAS, connections

    import ip2a.routers

    uses_database = request.node.get_closest_marker("django_db") or "_django_db_helper" in request.fixturenames
    if "replica" not in connections.settings or not uses_database:
        yield
        return
    request.getfixturevalue("_django_db_helper")  # set up first: it opens the test's transaction
    if not any(block._from_testcase for block in connections[DEFAULT_DB_ALIAS].atomic_blocks):
        yield
        return
    own = connections["replica"]
    connections["replica"] = connections[DEFAULT_DB_ALIAS]
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ip2a.routers, "in_write_transaction", _in_write_transaction_of_the_test)
            yield
    finally:
        connections["replica"] = own


@pytest.fixture
def make_user(db):
    """Return a factory: make_user("staff") creates a user holding that role (or none for None)."""

    def make(role=None, username=None, password="correct-horse-battery", **fields):
        user = User.objects.create_user(username or f"{role or 'norole'}-user", password=password, **fields)
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def role_client(client, make_user):
    """Return a function giving a test client logged in as a fresh user with the given role."""

    def login(role):
        client.force_login(make_user(role))
        return client

    return login


@pytest.fixture(params=ROLE_NAMES)
def any_role(request):
    return request.param
