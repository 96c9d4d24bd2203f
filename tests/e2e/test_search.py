"""The global search box in the header: the "/" key focuses it; a member number opens the member."""

import re

import pytest
from playwright.sync_api import expect

from members.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_slash_focuses_the_search_box_and_a_member_number_opens_the_member(staff_page):
    page = staff_page
    member = MemberFactory(member_number="A1234567", first_name="Ana", last_name="Ruiz")
    MemberFactory(member_number="A1234568", first_name="Ana", last_name="Rivera")
    search = page.locator("input[data-global-search]")

    page.goto("/members/")
    filter_box = page.get_by_role("search", name="Filter members").get_by_role("searchbox")
    filter_box.press_sequentially("a/b")  # "/" typed into another field stays there
    expect(filter_box).to_have_value("a/b")
    expect(search).not_to_be_focused()

    page.get_by_role("heading", level=1).click()  # focus leaves the field
    page.keyboard.press("/")
    expect(search).to_be_focused()
    expect(search).to_have_value("")  # the "/" itself is not typed
    page.keyboard.type("a1234567")
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(rf"/members/{member.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Ana Ruiz A1234567")


def test_search_lists_matches_by_name(staff_page):
    page = staff_page
    MemberFactory(member_number="A1234567", first_name="Ana", last_name="Ruiz")
    MemberFactory(member_number="A1234568", first_name="Ana", last_name="Rivera")

    page.goto("/")
    page.keyboard.press("/")
    page.keyboard.type("Ana R")
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/search/\?q=Ana\+R$"))
    members = page.get_by_role("region", name=re.compile(r"^Members"))
    expect(members.get_by_role("link")).to_have_text(
        ["A1234568 — Ana Rivera", "A1234567 — Ana Ruiz", re.compile("See all members")]
    )
