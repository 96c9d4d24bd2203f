"""The settings module: environment parsing, production refusals and a clean `check --deploy`."""

import importlib.metadata
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from ip2a.environment import cache_from_url, database_from_url, env_bool, env_list, release_id

PRODUCTION_ENV = {
    "IP2A_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "DATABASE_URL": "postgresql://ip2a:secret@db.internal:5432/ip2a",
    "ALLOWED_HOSTS": "ip2a.example.org",
}


def run_manage(*args, **env):
    unset = {"SECRET_KEY", "DATABASE_URL", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {key: value for key, value in os.environ.items() if key not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_secret_key():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "SECRET_KEY"}

    result = run_manage("check", **env)

    assert result.returncode != 0
    assert "SECRET_KEY must be set when IP2A_ENV=production" in result.stderr


def test_production_refuses_debug():
    result = run_manage("check", DEBUG="true", **PRODUCTION_ENV)

    assert result.returncode != 0
    assert "DEBUG must not be on when IP2A_ENV=production" in result.stderr


def test_production_refuses_the_embedded_database():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "DATABASE_URL"}

    result = run_manage("check", **env)

    assert result.returncode != 0
    assert "DATABASE_URL must be set when IP2A_ENV=production" in result.stderr


def test_unknown_environment_name_is_refused():
    result = run_manage("check", IP2A_ENV="prod")

    assert result.returncode != 0
    assert "IP2A_ENV must be one of dev, test, staging, production, not 'prod'" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_database_url_with_socket_folder_and_options():
    entry = database_from_url("postgresql://app:p%40ss@/ip2a?host=/run/pg&port=5433&sslmode=disable")

    assert entry["NAME"] == "ip2a"
    assert entry["USER"] == "app"
    assert entry["PASSWORD"] == "p@ss"
    assert entry["HOST"] == "/run/pg"
    assert entry["PORT"] == "5433"
    assert entry["OPTIONS"] == {"sslmode": "disable"}


def test_database_url_must_be_postgresql():
    with pytest.raises(ImproperlyConfigured, match="PostgreSQL only"):
        database_from_url("sqlite:///db.sqlite3")


def test_cache_url_selects_redis_or_shared_files_and_refuses_process_memory():
    assert cache_from_url("redis://127.0.0.1:6379/1")["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache_from_url("file:///srv/cache") == {
        "BACKEND": "ip2a.cache.FileCache",
        "LOCATION": "/srv/cache",
        "OPTIONS": {"MAX_ENTRIES": 20_000},
    }
    with pytest.raises(ImproperlyConfigured, match="never per-process memory"):
        cache_from_url("locmem://")


def test_env_bool_rejects_unclear_values(monkeypatch):
    monkeypatch.setenv("IP2A_FLAG", "maybe")

    with pytest.raises(ImproperlyConfigured, match="IP2A_FLAG must be true or false"):
        env_bool("IP2A_FLAG")


def test_env_list_splits_and_strips(monkeypatch):
    monkeypatch.setenv("IP2A_HOSTS", " a.example , b.example,, ")

    assert env_list("IP2A_HOSTS") == ["a.example", "b.example"]


def test_default_cache_is_shared_between_processes():
    # Files in one folder: in memory where /dev/shm is large enough (ip2a.environment.default_cache), else var/.
    entry = settings.CACHES["default"]
    assert entry["BACKEND"] in {"ip2a.cache.FileCache", "ip2a.cache.PrivateFolderCache"}
    in_memory = entry["LOCATION"].startswith("/dev/shm/")
    assert (entry["BACKEND"] == "ip2a.cache.PrivateFolderCache") is in_memory


def test_file_cache_lists_its_folder_on_one_write_in_cull_every_at_most_every_cull_seconds(tmp_path, monkeypatch):
    from ip2a import cache as file_cache

    store = file_cache.FileCache(str(tmp_path), {"OPTIONS": {"MAX_ENTRIES": 10}})
    listings = []
    real = store._list_cache_files
    monkeypatch.setattr(store, "_list_cache_files", lambda: listings.append(1) or real())
    clock = [1000.0]
    monkeypatch.setattr(file_cache.time, "monotonic", lambda: clock[0])
    for number in range(200):
        store.set(f"key{number}", number)
    assert len(listings) == 1  # the 50th write looked; the 100th, 150th and 200th came too soon after it

    clock[0] += file_cache.CULL_SECONDS
    for number in range(50):
        store.set(f"later{number}", number)
    assert len(listings) == 2  # the next 50th write, CULL_SECONDS later, looked again

    monkeypatch.setattr(file_cache, "CULL_EVERY", 1)
    clock[0] += file_cache.CULL_SECONDS
    store.set("one-more", 1)
    assert len(real()) < 200  # a cull removed a third of the entries
    assert store.get("one-more") == 1


@pytest.mark.django_db
def test_tests_run_on_postgresql():
    from django.db import connection

    assert connection.vendor == "postgresql"
    assert connection.pg_version >= 150000


def test_previous_secret_keys_come_from_the_environment_for_rotation():
    result = run_manage("diffsettings", **PRODUCTION_ENV, SECRET_KEY_FALLBACKS="old-key-one, old-key-two")

    assert "SECRET_KEY_FALLBACKS = ['old-key-one', 'old-key-two']" in result.stdout


def release_tree(root, page="<p>{{ member }}</p>"):
    (root / "templates").mkdir(parents=True)
    (root / "templates" / "page.html").write_text(page)
    (root / "members").mkdir()
    (root / "members" / "views.py").write_text("VIEW = 1\n")
    (root / "members" / "tests").mkdir()
    (root / "members" / "tests" / "test_views.py").write_text("TEST = 1\n")
    return root


def test_the_release_changes_with_what_pages_are_rendered_from_and_not_with_tests_or_data(tmp_path, monkeypatch):
    monkeypatch.delenv("IP2A_RELEASE", raising=False)
    folders = ["members", "templates"]
    root = release_tree(tmp_path / "a")
    first = release_id(root, folders)

    assert release_id(release_tree(tmp_path / "b"), folders) == first  # same content elsewhere: same release
    (root / "members" / "tests" / "test_views.py").write_text("TEST = 2\n")
    (root / "var").mkdir()
    (root / "var" / "notes.txt").write_text("data, not code")
    assert release_id(root, folders) == first
    (root / "templates" / "page.html").write_text("<p>{{ member.full_name }}</p>")
    second = release_id(root, folders)
    assert second != first
    real_version = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "99.0" if name == "django" else real_version(name))
    assert release_id(root, folders) != second  # Django upgraded: its widgets and admin render differently
    monkeypatch.setenv("IP2A_RELEASE", "2026.11-3")
    assert release_id(root, folders) == "2026.11-3"


def test_every_shared_cache_key_starts_with_the_release():
    assert settings.CACHES["default"]["KEY_PREFIX"] == f"r{settings.RELEASE}"
    assert cache.make_key("page") == f"r{settings.RELEASE}:1:page"


@pytest.mark.parametrize(("imports_pytest", "expected"), [(True, "test test"), (False, "dev -")])
def test_a_bare_pytest_run_gets_the_test_environment(imports_pytest, expected):
    """`pytest` without IP2A_ENV runs as `make test` does (and its subprocesses inherit it); anything else
    without IP2A_ENV is dev."""
    code = (
        ("import pytest; " if imports_pytest else "")
        + "import os, django; django.setup(); from django.conf import settings; "
        + "print(settings.IP2A_ENV, os.environ.get('IP2A_ENV', '-'))"
    )
    env = {key: value for key, value in os.environ.items() if key not in {"IP2A_ENV", "DATABASE_URL"}}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env | {"DJANGO_SETTINGS_MODULE": "ip2a.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.stdout.split("\n")[-2] == expected, result.stderr
