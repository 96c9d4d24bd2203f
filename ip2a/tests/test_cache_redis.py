"""The shared cache on Redis (CACHE_URL=redis://…, Django's own Redis backend): what the portal keeps is stored in
Redis, where every worker reads it; it follows every write; seed and reset empty it; sessions stay in the
database. These tests use the Redis database named by $IP2A_TEST_REDIS_URL (default redis://127.0.0.1:6379/15),
empty that database (and only that one) before and after each test, and are skipped when it does not answer."""

import functools
import io
import os
import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.models import Session
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache, RedisSerializer
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from ip2a import auth, caching
from ip2a.environment import cache_from_url
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member, MemberClassification

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("IP2A_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
MEMBERS = reverse("members:member_list")
PREFIX = ":1:"  # Django's key prefix (KEY_PREFIX "" and VERSION 1) in front of every key it stores


@functools.cache
def redis_missing() -> str | None:
    """Why the Redis tests cannot run, or None when the test Redis answers (asked once per test run)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2).ping()
    except redis.RedisError as exc:
        return f"no Redis answers at {REDIS_URL} ({exc}); start one or set IP2A_TEST_REDIS_URL"
    return None


@pytest.fixture
def redis_db():
    """The portal's shared cache on the test Redis database, emptied before and after; yields a plain redis
    client on that database to look at what is stored."""
    import redis

    if reason := redis_missing():
        pytest.skip(reason)
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()  # this database only, never FLUSHALL
    try:
        with override_settings(CACHES={"default": cache_from_url(REDIS_URL)}):
            yield client
    finally:
        client.flushdb()
        client.close()


def stored(client, key: str):
    """The value the cache holds under ``key``, read from Redis itself (None when absent)."""
    raw = client.get(PREFIX + key)
    return None if raw is None else RedisSerializer().loads(raw)


def stored_values(client, pattern: str) -> dict:
    """{cache key: value} of every entry in Redis whose key matches the pattern (without the prefix)."""
    keys = [key.decode()[len(PREFIX) :] for key in client.keys(PREFIX + pattern)]
    return {key: stored(client, key) for key in keys}


# --- The configuration -------------------------------------------------------------------------------------------


def test_cache_url_refuses_schemes_other_than_redis_and_file():
    for url in ("memcached://127.0.0.1:11211", "dummy://", "db://cache_table"):
        with pytest.raises(ImproperlyConfigured, match="never per-process memory"):
            cache_from_url(url)


def test_cache_url_file_refuses_a_relative_folder():
    for url in ("file://var/cache", "file:var/cache"):
        with pytest.raises(ImproperlyConfigured, match="absolute folder"):
            cache_from_url(url)


def test_the_shared_cache_is_redis_and_stores_in_the_configured_database(redis_db):
    cache.set("ip2a:probe", {"answer": 42}, 60)

    assert isinstance(caches["default"], RedisCache)
    assert stored(redis_db, "ip2a:probe") == {"answer": 42}
    # What one worker stores, a new connection (another worker, another host) reads.
    other_worker = RedisCache(REDIS_URL, {})
    assert other_worker.get("ip2a:probe") == {"answer": 42}


# --- keep(): written on the second ask ---------------------------------------------------------------------------


def test_keep_writes_to_redis_only_on_the_second_ask_and_with_an_expiry(redis_db):
    caching.keep("v:redis-once", "first")
    assert redis_db.exists(PREFIX + "v:redis-once") == 0

    caching.keep("v:redis-once", "second")

    assert stored(redis_db, "v:redis-once") == "second"
    assert 0 < redis_db.ttl(PREFIX + "v:redis-once") <= caching.CACHE_SECONDS


# --- Dashboard numbers -----------------------------------------------------------------------------------------------


def test_dashboard_numbers_are_kept_in_redis_and_follow_a_write(redis_db, role_client):
    MemberEmploymentFactory.create_batch(2, member__classification=MemberClassification.JOURNEYMAN)
    client = role_client("staff")
    assert client.get("/").context["panels"]["members"]["active"] == 2
    kept = stored_values(redis_db, "dashboard:*:members:*")
    assert len(kept) == 1
    assert sum(count for count, _working in next(iter(kept.values())).values()) == 2

    Member.objects.first().soft_delete(reason="left the local")

    assert client.get("/").context["panels"]["members"]["active"] == 1


# --- Lists: count and rendered results ---------------------------------------------------------------------------


def test_member_list_page_is_kept_in_redis_and_follows_a_portal_write(redis_db, role_client):
    MemberFactory.create_batch(2)
    client = role_client("staff")
    client.get(MEMBERS)
    first = client.get(MEMBERS)  # asked for twice: now kept
    table = re.search(r"<table>.*</table>", first.content.decode(), re.S).group(0)
    kept = stored_values(redis_db, "v:*")
    assert any(isinstance(value, tuple) and table in value[1] for value in kept.values())  # (title, content)
    assert client.get(MEMBERS).templates[0].name == "generic/kept_page.html"

    created = client.post(
        reverse("members:member_create"),
        {
            "member_number": "B7654321",
            "first_name": "Ana",
            "last_name": "Quintero",
            "status": "active",
            "classification": "journeyman",
        },  # fmt: skip
    )
    assert created.status_code == 302

    after = client.get(MEMBERS)
    assert after.context["paginator"].count == 3
    assert "Quintero" in after.content.decode()


# --- Roles and permissions: the auth version ---------------------------------------------------------------------


def test_a_permission_taken_from_a_role_is_refused_at_once_through_the_token_in_redis(redis_db, client, make_user):
    client.force_login(make_user("staff"))
    assert client.get(MEMBERS).status_code == 200
    token = stored(redis_db, auth.VERSION_KEY)
    assert token is not None

    Group.objects.get(name="staff").permissions.remove(Permission.objects.get(codename="view_member"))

    assert stored(redis_db, auth.VERSION_KEY) not in (None, token)  # every worker sees the new token
    assert client.get(MEMBERS).status_code == 403


def test_a_role_taken_away_is_refused_at_once_with_redis(redis_db, client, make_user):
    user = make_user("staff")
    client.force_login(user)
    assert client.get(MEMBERS).status_code == 200

    user.groups.clear()

    assert client.get(MEMBERS).status_code == 403


# --- seed and reset empty it -------------------------------------------------------------------------------------


def test_reset_empties_the_redis_cache_and_moves_the_epoch(redis_db, role_client):
    MemberFactory.create_batch(3)
    client = role_client("staff")
    assert client.get("/").context["panels"]["members"]["active"] == 3
    epoch = caching.epoch()
    assert stored_values(redis_db, "dashboard:*")

    call_command("reset", "--yes", stdout=io.StringIO())

    assert not stored_values(redis_db, "dashboard:*")
    assert caching.epoch() != epoch
    assert client.get("/").context["panels"]["members"]["active"] == 0


def test_seed_empties_the_redis_cache_so_numbers_follow_data_loaded_without_history(redis_db, role_client):
    MemberFactory.create_batch(3)
    client = role_client("staff")
    assert client.get("/").context["panels"]["members"]["active"] == 3
    epoch = caching.epoch()

    # The seed loads with the history triggers off: no data version moves, only emptying the cache helps.
    call_command("seed", "--quick", "--no-files", "--yes", stdout=io.StringIO())

    assert caching.epoch() != epoch
    assert client.get("/").context["panels"]["members"]["active"] == Member.objects.active().count()
    assert Member.objects.active().count() != 3


# --- Sessions stay in the database ---------------------------------------------------------------------------------


def test_sessions_stay_in_the_database_with_a_redis_cache(redis_db, client, make_user):
    make_user("staff", username="sam", password="correct-horse-battery")

    assert client.post(reverse("login"), {"username": "sam", "password": "correct-horse-battery"}).status_code == 302
    assert client.get(MEMBERS).status_code == 200

    assert Session.objects.filter(session_key=client.session.session_key).exists()
    assert not [key for key in redis_db.keys("*") if b"session" in key]
