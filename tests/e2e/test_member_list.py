"""The member list: live filtering with htmx, bookmarkable filters, pagination, and the same without JavaScript."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from members.factories import MemberFactory
from members.models import MemberStatus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def members(roles):
    """51 active Larsens and one suspended Larkin (two pages for "Lar"), and a Zeller who never matches."""
    MemberFactory.create_batch(51, last_name="Larsen")
    MemberFactory(last_name="Larkin", first_name="Ines", member_number="6000001", status=MemberStatus.SUSPENDED)
    MemberFactory(last_name="Zeller", first_name="Ana", member_number="6000002")


def filters(page):
    return page.get_by_role("search", name="Filter members")


def rows(page):
    return page.locator("#results tbody tr")


def expect_filters(browser_page, /, **wanted):
    """Wait until the address bar holds these filters (and no other non-empty parameter)."""
    for name, value in wanted.items():
        expect(browser_page).to_have_url(re.compile(rf"[?&]{name}={value}(&|$)"))
    assert parse_qs(urlsplit(browser_page.url).query) == {name: [value] for name, value in wanted.items()}


def test_member_list_filters_live_and_keeps_the_filters_in_the_url(staff_page, members):
    page = staff_page
    page.goto("/members/")
    expect(page.locator(".result-count")).to_have_text("53 results · page 1 of 2")
    page.evaluate("window.loadedOnce = true")  # gone if the browser loads a new page

    with page.expect_request(lambda request: request.headers.get("hx-request") == "true"):
        filters(page).get_by_role("searchbox", name="Search").fill("Lar")

    expect_filters(page, q="Lar")
    expect(page.locator(".result-count")).to_have_text("52 results · page 1 of 2")
    expect(rows(page).filter(has_text="Zeller")).to_have_count(0)
    assert page.evaluate("window.loadedOnce") is True

    page.reload()  # the bookmarked URL shows the same rows
    expect(filters(page).get_by_role("searchbox", name="Search")).to_have_value("Lar")
    expect(page.locator(".result-count")).to_have_text("52 results · page 1 of 2")
    expect(rows(page).filter(has_text="Zeller")).to_have_count(0)

    page.evaluate("window.loadedOnce = true")
    status = filters(page).get_by_role("group", name="Status")
    status.get_by_label("Suspended").check()
    expect_filters(page, q="Lar", status="suspended")
    expect(rows(page)).to_have_count(1)
    expect(rows(page)).to_contain_text("Larkin, Ines")
    expect(page.locator(".result-count")).to_have_text("1 result")

    status.get_by_label("Suspended").uncheck()
    status.get_by_label("Active", exact=True).check()
    expect_filters(page, q="Lar", status="active")
    expect(page.locator(".result-count")).to_have_text("51 results · page 1 of 2")
    assert page.evaluate("window.loadedOnce") is True

    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Next").click()
    expect_filters(page, q="Lar", status="active", page="2")
    expect(page.locator(".result-count")).to_have_text("51 results · page 2 of 2")
    expect(rows(page)).to_have_count(1)
    expect(rows(page)).to_contain_text("Larsen")
    expect(filters(page).get_by_role("searchbox", name="Search")).to_have_value("Lar")
    expect(filters(page).get_by_role("group", name="Status").get_by_label("Active", exact=True)).to_be_checked()


def test_member_list_filters_without_javascript(new_context, session_cookie, members):
    context = new_context(java_script_enabled=False)
    context.add_cookies([session_cookie("staff")])
    page = context.new_page()

    page.goto("/members/")
    filters(page).get_by_role("searchbox", name="Search").fill("Lar")
    filters(page).get_by_role("group", name="Status").get_by_label("Suspended").check()
    filters(page).get_by_role("button", name="Apply").click()

    expect_filters(page, q="Lar", status="suspended")
    expect(rows(page)).to_have_count(1)
    expect(rows(page)).to_contain_text("Larkin, Ines")
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    expect(page.get_by_role("link", name="Skip to main content")).to_have_count(1)
