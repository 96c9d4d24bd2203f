"""Login, logout, password change, the base layout and the security headers."""

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def test_login_page_renders_a_labelled_form(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<label for="id_username">' in html
    assert '<label for="id_password">' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_login_redirects_to_a_safe_next(client, make_user):
    make_user("staff", username="sam")

    response = client.post("/accounts/login/", {"username": "sam", "password": PASSWORD, "next": "/admin/"})

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_login_ignores_an_offsite_next(client, make_user, next_url):
    make_user("staff", username="sam")

    response = client.post("/accounts/login/", {"username": "sam", "password": PASSWORD, "next": next_url})

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_wrong_password_shows_a_clear_message(client, make_user):
    make_user("staff", username="sam")

    response = client.post("/accounts/login/", {"username": "sam", "password": "nope"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_logout_needs_post(client, make_user):
    client.force_login(make_user("staff"))

    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302


def test_password_change_applies_the_validators(client, make_user):
    user = make_user("staff")
    client.force_login(user)

    short = client.post(
        "/accounts/password/", {"old_password": PASSWORD, "new_password1": "abc", "new_password2": "abc"}
    )
    assert "This password is too short" in short.content.decode()

    new = "a-much-better-passphrase"
    done = client.post("/accounts/password/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert done["Location"] == "/accounts/password/done/"
    user.refresh_from_db()
    assert user.check_password(new)


def test_base_layout_is_accessible_and_shows_the_user_menu(client, make_user, settings):
    client.force_login(make_user("admin", username="ada", is_staff=True))

    html = client.get("/").content.decode()

    assert '<a class="skip-link" href="#main">' in html
    assert '<main id="main"' in html
    assert '<nav class="main-nav" aria-label="Main">' in html
    assert "ada</summary>" in html
    assert 'href="/admin/"' in html
    assert f"IP2A {settings.IP2A_VERSION}" in html
    assert "/static/django_htmx/htmx-2.min.js" in html
    assert "cdn" not in html.lower()


def test_admin_link_only_for_admins(client, make_user):
    client.force_login(make_user("staff"))

    assert 'href="/admin/"' not in client.get("/").content.decode()


def test_security_headers_on_every_page(client):
    response = client.get("/accounts/login/")

    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_admin_login_goes_through_the_portal_login(client):
    response = client.get("/admin/login/?next=/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_session_expires_after_the_idle_limit(client, make_user, settings):
    client.force_login(make_user("staff"))
    assert client.get("/").status_code == 200
    assert client.session.get_expiry_age() == settings.SESSION_IDLE_SECONDS

    Session.objects.update(expire_date=timezone.now() - timezone.timedelta(seconds=1))

    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_requests_renew_the_session_at_most_once_a_minute(client, make_user):
    client.force_login(make_user("staff"))
    client.get("/")
    first = Session.objects.get().expire_date

    client.get("/")

    assert Session.objects.get().expire_date == first


def test_training_pages_show_the_sections_sub_navigation_the_role_may_use(client, make_user):
    client.force_login(make_user("staff"))

    html = client.get("/training/cohorts/").content.decode()

    assert '<nav class="subnav" aria-label="Section">' in html
    assert '<a class="button" href="/training/cohorts/" aria-current="page">Cohorts</a>' in html
    assert 'href="/training/students/">Students</a>' in html
    assert '<a href="/training/students/" aria-current="page">Training</a>' in html


def test_sub_navigation_is_absent_outside_its_section(client, make_user):
    client.force_login(make_user("staff"))

    html = client.get("/members/").content.decode()

    assert 'aria-label="Section"' not in html
