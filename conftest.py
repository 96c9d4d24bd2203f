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
