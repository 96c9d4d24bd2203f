"""Logging in through the login form."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct-horse-battery"


def test_login_form_lands_on_the_dashboard(page, roles, make_user):
    make_user("staff", username="sam", password=PASSWORD)

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard")).to_have_attribute(
        "aria-current", "page"
    )


def test_login_with_a_wrong_password_shows_the_error(page, roles, make_user):
    make_user("staff", username="sam", password=PASSWORD)

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username and password")
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_label("Username")).to_have_value("sam")
