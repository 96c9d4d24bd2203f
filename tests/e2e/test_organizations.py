"""Organization contacts: add one, make another the primary contact."""

import re

import pytest
from playwright.sync_api import expect

from organizations.factories import OrganizationContactFactory, OrganizationFactory
from organizations.models import OrganizationContact

pytestmark = pytest.mark.django_db(transaction=True)


def test_add_a_contact_then_make_another_primary(staff_page):
    page = staff_page
    organization = OrganizationFactory(name="Alder Electric")
    OrganizationContactFactory(organization=organization, first_name="Pat", last_name="Primus", is_primary=True)
    contacts = page.get_by_role("region", name="Contacts").locator("tbody tr")
    primary = contacts.filter(has=page.locator(".badge", has_text="primary"))

    page.goto("/organizations/")
    page.get_by_role("link", name="Alder Electric").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Alder Electric")
    expect(primary).to_contain_text("Pat Primus")

    page.get_by_role("link", name="Add contact").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New contact at Alder Electric")
    main = page.get_by_role("main")
    main.get_by_label("First name").fill("Sam")
    main.get_by_label("Last name").fill("Second")
    main.get_by_label("Title").fill("Office manager")
    main.get_by_label("Email").fill("sam@alder.example")
    main.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(rf"/organizations/{organization.pk}/$"))
    expect(contacts).to_have_count(2)
    expect(contacts.filter(has_text="Sam Second")).to_contain_text("Office manager")
    expect(primary).to_have_count(1)
    expect(primary).to_contain_text("Pat Primus")

    contacts.filter(has_text="Sam Second").get_by_role("button", name="Make primary").click()

    expect(primary).to_have_count(1)
    expect(primary).to_contain_text("Sam Second")
    expect(contacts.first).to_contain_text("Sam Second")  # the primary contact comes first
    expect(contacts.filter(has_text="Pat Primus").get_by_role("button", name="Make primary")).to_be_visible()
    assert OrganizationContact.objects.get(is_primary=True).last_name == "Second"
