"""Importing members from a CSV file: upload, preview, confirm, summary; a file with an error imports nothing."""

import re

import pytest
from playwright.sync_api import expect

from members.factories import MemberFactory
from members.models import Member

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "member_number,first_name,last_name,classification,status\n"


def upload(page, name, text):
    page.goto("/members/")
    page.get_by_role("link", name="Import members").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import members")
    main = page.get_by_role("main")
    main.get_by_label("File").set_input_files({"name": name, "mimeType": "text/csv", "buffer": text.encode()})
    main.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Import members from “{name}”")


def test_member_import_previews_then_imports(staff_page):
    page = staff_page
    MemberFactory(member_number="6000001", first_name="Ines", last_name="Larkin")
    text = HEADER + "7100001,Ana,Ruiz,journeyman,active\n7100002,Ben,Ode,apprentice_1,active\n"
    text += "6000001,Ines,Larkin-Moss,journeyman,active\n"

    upload(page, "members.csv", text)
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(re.compile(r"Rows\s*3\s*New\s*2\s*Updated\s*1\s*Unchanged\s*0\s*With errors\s*0"))
    rows = page.locator("table.import-rows tbody tr")
    expect(rows.locator("td:nth-child(2)")).to_have_text(["new", "new", "update"])
    expect(rows.locator("td:nth-child(3)")).to_have_text(
        ["7100001 — Ana Ruiz", "7100002 — Ben Ode", "6000001 — Ines Larkin-Moss"]
    )
    expect(rows.nth(2).locator("td:nth-child(4)")).to_have_text("last_name")
    assert Member.objects.count() == 1  # the preview wrote nothing

    page.get_by_role("button", name="Import these rows").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Imported members from “members.csv”")
    expect(page.get_by_role("main").get_by_role("status")).to_have_text(
        "2 new, 1 updated, 0 unchanged, in one transaction."
    )
    expect(page.locator("table.import-rows tbody tr td:nth-child(2)")).to_have_text(["new", "new", "update"])
    assert sorted(Member.objects.values_list("member_number", "last_name")) == [
        ("6000001", "Larkin-Moss"),
        ("7100001", "Ruiz"),
        ("7100002", "Ode"),
    ]


def test_member_import_with_a_bad_row_imports_nothing(staff_page):
    page = staff_page
    text = HEADER + "7100001,Ana,Ruiz,journeyman,active\n12AB,Ben,Ode,journeyman,active\n"

    upload(page, "members.csv", text)

    expect(page.get_by_role("alert")).to_have_text(
        "1 row with errors: fix the file and upload again; nothing was imported."
    )
    errors = page.locator("table.import-errors tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.locator("td").first).to_have_text("3")  # the header is row 1
    expect(errors).to_contain_text("A member number is 5 to 10 digits")
    expect(page.get_by_role("button", name="Import these rows")).to_have_count(0)
    expect(page.get_by_role("link", name="Upload the corrected file")).to_be_visible()
    assert not Member.objects.exists()
