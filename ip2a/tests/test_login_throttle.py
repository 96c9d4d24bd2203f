"""Login throttling (ip2a/throttle.py) and the rest of the account security settings (issue #8, item 3)."""

import logging
from datetime import timedelta

import pytest
from django.db.models import F
from django.test import Client
from django.utils import timezone

from audit.models import LoginFailure
from ip2a.tests.test_settings import PRODUCTION_ENV, run_manage

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
LOGIN = "/accounts/login/"
REFUSED = "Too many failed sign-ins for this username from your address. Try again in 15 minutes."


def sign_in(client, username="sam", password=PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def fail(client, times, username="sam", **extra):
    for _ in range(times):
        response = sign_in(client, username, "wrong-password", **extra)
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()


def age_failures(seconds):
    LoginFailure.objects.update(created_at=F("created_at") - timedelta(seconds=seconds))


@pytest.fixture
def sam(make_user):
    return make_user("staff", username="sam")


def test_sixth_attempt_is_refused_even_with_the_right_password_without_checking_it(client, sam, monkeypatch):
    fail(client, 5)

    def no_password_check(*args, **kwargs):
        raise AssertionError("the password was checked while the pair is locked")

    monkeypatch.setattr("django.contrib.auth.forms.authenticate", no_password_check)
    response = sign_in(client)

    assert response.status_code == 429
    html = response.content.decode()
    assert '<div class="form-errors" role="alert">' in html
    assert REFUSED in html
    assert 'name="username"' in html
    assert client.get("/").status_code == 302  # not signed in
    assert LoginFailure.objects.count() == 5  # refusals are not counted as failures


def test_refusal_page_keeps_the_security_headers(client, sam):
    fail(client, 5)

    response = sign_in(client)

    assert response.status_code == 429
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_username_is_compared_without_case_or_surrounding_spaces(client, sam):
    fail(client, 3, username="Sam")
    fail(client, 2, username=" SAM ")

    assert sign_in(client).status_code == 429
    assert set(LoginFailure.objects.values_list("username", "ip")) == {("sam", "127.0.0.1")}


def test_unicode_look_alikes_of_a_username_share_its_count(client, sam):
    fail(client, 2, username="ｓａｍ")  # full-width letters: Django signs them in as "sam"
    fail(client, 3, username="SAM")

    response = sign_in(client)

    assert response.status_code == 429


def test_another_address_or_another_username_is_not_affected(client, sam, make_user):
    make_user("staff", username="ada")
    fail(client, 5)

    assert sign_in(Client(), username="ada").status_code == 302
    assert sign_in(Client(), REMOTE_ADDR="10.0.0.2").status_code == 302


def test_addresses_behind_a_trusted_proxy_are_counted_apart(client, sam, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    fail(client, 5, HTTP_X_FORWARDED_FOR="203.0.113.5")

    assert sign_in(client, HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429
    assert sign_in(Client(), HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 302
    assert set(LoginFailure.objects.values_list("ip", flat=True)) == {"203.0.113.5"}


def test_refusal_says_how_many_minutes_are_left(client, sam):
    fail(client, 5)

    age_failures(10 * 60)
    assert "Try again in 5 minutes." in sign_in(client).content.decode()
    age_failures(4 * 60 + 30)
    assert "Try again in 1 minute." in sign_in(client).content.decode()


def test_login_works_again_after_fifteen_minutes(client, sam):
    fail(client, 5)
    age_failures(15 * 60)

    assert sign_in(client).status_code == 302
    assert not LoginFailure.objects.exists()


def test_refusal_ends_on_time_with_the_clock_moved_on(client, sam, monkeypatch):
    fail(client, 5)
    later = timezone.now() + timedelta(minutes=15)
    monkeypatch.setattr(timezone, "now", lambda: later)

    assert sign_in(client).status_code == 302


def test_after_a_lockout_counting_starts_afresh(client, sam):
    fail(client, 5)
    age_failures(15 * 60)

    fail(client, 4)
    assert sign_in(client, password="wrong-password").status_code == 200  # the fifth failure of the new run
    assert sign_in(client).status_code == 429


def test_failures_spread_wider_than_the_window_do_not_lock(client, sam):
    fail(client, 1)
    age_failures(15 * 60)
    fail(client, 4)

    assert sign_in(client).status_code == 302


def test_a_success_resets_the_count(client, sam):
    fail(client, 4)
    assert sign_in(client).status_code == 302
    assert not LoginFailure.objects.exists()

    other = Client()
    fail(other, 4)
    assert sign_in(other).status_code == 302


def test_only_wrong_passwords_count(client, sam):
    response = client.post(LOGIN, {"username": "sam", "password": ""})

    assert response.status_code == 200
    assert not LoginFailure.objects.exists()


def test_unknown_usernames_are_counted_too(client):
    fail(client, 5, username="nobody")

    assert sign_in(client, username="nobody").status_code == 429


def test_failures_and_refusals_are_logged_with_username_and_address(client, sam, caplog):
    with caplog.at_level(logging.WARNING, logger="ip2a.security"):
        fail(client, 5)
        sign_in(client)

    messages = [(record.name, record.levelname, record.getMessage()) for record in caplog.records]
    failed = ("ip2a.security", "WARNING", "Login failed: username='sam' ip=127.0.0.1")
    refused = ("ip2a.security", "WARNING", "Login refused (throttled): username='sam' ip=127.0.0.1")
    assert [m for m in messages if m[0] == "ip2a.security"] == [failed] * 5 + [refused]


def test_count_lives_in_the_database_so_every_worker_agrees(sam):
    first_worker, second_worker = Client(), Client()

    fail(first_worker, 3)
    fail(second_worker, 2)

    assert LoginFailure.objects.for_pair("sam", "127.0.0.1").count() == 5
    assert sign_in(first_worker).status_code == 429
    assert sign_in(Client()).status_code == 429


def test_admin_login_is_throttled_by_the_same_counter(client, sam):
    sam.is_staff = True
    sam.save()
    forwarded = client.get("/admin/login/?next=/admin/")
    assert forwarded["Location"] == "/accounts/login/?next=/admin/"
    # Passwords posted to the admin's login URL are never checked there: it only forwards.
    assert client.post("/admin/login/", {"username": "sam", "password": PASSWORD}).status_code == 302
    assert client.get("/admin/").status_code == 302
    for _ in range(5):
        client.post(forwarded["Location"], {"username": "sam", "password": "wrong", "next": "/admin/"})

    response = client.post(forwarded["Location"], {"username": "sam", "password": PASSWORD, "next": "/admin/"})

    assert response.status_code == 429
    assert REFUSED in response.content.decode()


def test_each_failure_deletes_rows_too_old_to_matter(client, sam):
    fail(client, 2)
    age_failures(24 * 60 * 60 + 1)

    fail(client, 1)

    assert LoginFailure.objects.count() == 1


def test_signed_in_users_are_sent_on_from_the_login_page(client, sam):
    client.force_login(sam)

    response = client.get(LOGIN)

    assert response.status_code == 302
    assert response["Location"] == "/"


# --- The other account settings of item 3 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("password123", "This password is too common."),
        ("4829105738164", "This password is entirely numeric."),
        ("samuel-staffer", "The password is too similar to the username."),
    ],
)
def test_password_change_refuses_weak_passwords(client, make_user, password, message):
    user = make_user("staff", username="samuel-staffer")
    client.force_login(user)

    response = client.post(
        "/accounts/password/", {"old_password": PASSWORD, "new_password1": password, "new_password2": password}
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_production_settings_secure_the_cookies_and_send_hsts():
    result = run_manage("diffsettings", **PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    lines = set(result.stdout.splitlines())
    assert {
        "SESSION_COOKIE_SECURE = True",
        "CSRF_COOKIE_SECURE = True",
        "SESSION_COOKIE_AGE = 3600",
        "SECURE_SSL_REDIRECT = True",
        "SECURE_HSTS_SECONDS = 31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS = True",
        "SECURE_HSTS_PRELOAD = True",
        "LOGIN_FAILURE_LIMIT = 5  ###",
        "LOGIN_LOCKOUT_SECONDS = 900  ###",
    } <= lines
