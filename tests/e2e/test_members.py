"""Member pages: the member form, jobs (add one ending the current one, end one) and attachments."""

import re

import pytest
from playwright.sync_api import expect

from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member
from organizations.factories import EmployerFactory

pytestmark = pytest.mark.django_db(transaction=True)

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_member_form_shows_the_number_error_then_saves(staff_page):
    page = staff_page
    main = page.get_by_role("main")  # the header's search box has a label too
    page.goto("/members/")
    page.get_by_role("link", name="Add member").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New member")

    main.get_by_label("Member number").fill("12AB")
    main.get_by_label("First name").fill("Ana")
    main.get_by_label("Last name").fill("Ruiz")
    main.get_by_label("Classification").select_option(label="Journeyman")
    page.get_by_role("button", name="Save").click()

    # The format rule's message stands beside the field it is about.
    expect(main.locator(".field.has-errors")).to_contain_text(
        "A member number is 5 to 10 digits, with at most one letter before or after."
    )
    expect(main.locator(".field.has-errors").get_by_label("Member number")).to_have_value("12AB")
    expect(main.get_by_label("First name")).to_have_value("Ana")
    assert not Member.objects.exists()

    main.get_by_label("Member number").fill("a1234567")
    page.get_by_role("button", name="Save").click()

    member = Member.objects.get()
    expect(page).to_have_url(re.compile(rf"/members/{member.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Ana Ruiz A1234567")
    expect(page.get_by_role("status")).to_contain_text("A1234567")


def test_add_a_job_ending_the_current_one_then_end_it(staff_page):
    page = staff_page
    main = page.get_by_role("main")  # the header's search box has a label too
    job = MemberEmploymentFactory(
        member__first_name="Ana", member__last_name="Ruiz", organization__name="Alder Electric", job_title="Wireman"
    )
    EmployerFactory(name="Birch Power")
    history = page.locator("#employment-history tbody tr")

    page.goto(job.member.get_absolute_url())
    page.get_by_role("link", name="Add employment").click()
    end_current = main.get_by_label(re.compile(r"^End the current job at Alder Electric \(since 2020-01-06\)"))
    expect(end_current).to_be_checked()
    main.get_by_label("Organization").select_option(label="Birch Power")
    main.get_by_label("Start date").fill("2024-05-01")
    main.get_by_label("Job title").fill("Foreman")
    end_current.uncheck()
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("alert")).to_contain_text("Ana Ruiz already has a current job")
    end_current = main.get_by_label(re.compile(r"^End the current job at Alder Electric .* on 2024-04-30"))
    end_current.check()
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(rf"/members/{job.member.pk}/$"))
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text(re.compile(r"Birch Power\s+Foreman\s+2024-05-01\s+Current"))
    expect(history.nth(1)).to_contain_text(re.compile(r"Alder Electric\s+Wireman\s+2020-01-06\s+2024-04-30"))

    page.get_by_role("link", name="End this job").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("End job")
    main.get_by_label("Last day of the job").fill("2024-06-30")
    main.get_by_label("Reason").fill("Project finished")
    page.get_by_role("button", name="End job").click()

    expect(page).to_have_url(re.compile(rf"/members/{job.member.pk}/$"))
    expect(page.get_by_text("No current job.")).to_be_visible()
    expect(history.nth(0)).to_contain_text(re.compile(r"Birch Power\s+Foreman\s+2024-05-01\s+2024-06-30"))
    expect(history.filter(has_text="Current")).to_have_count(0)


def test_attachment_upload_download_and_delete(staff_page, attachments_dir):
    page = staff_page
    main = page.get_by_role("main")  # the header's search box has a label too
    member = MemberFactory(first_name="Ana", last_name="Ruiz")
    panel = page.locator("section.attachments")

    page.goto(member.get_absolute_url())
    expect(panel).to_contain_text("No files are attached.")
    panel.get_by_role("link", name="Attach a file").click()
    main.get_by_label("File").set_input_files(
        {"name": "dues-letter.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    main.get_by_label("Description").fill("Signed dues letter")
    page.get_by_role("button", name="Upload").click()

    expect(page).to_have_url(re.compile(rf"/members/{member.pk}/$"))
    expect(page.get_by_role("status")).to_contain_text("Attached “dues-letter.pdf”")
    expect(panel.locator("tbody tr")).to_have_count(1)
    expect(panel.locator("tbody tr")).to_contain_text("Signed dues letter")

    with page.expect_download() as download_info:
        panel.get_by_role("link", name="dues-letter.pdf", exact=True).click()
    download = download_info.value
    assert download.suggested_filename == "dues-letter.pdf"
    with open(download.path(), "rb") as downloaded:
        assert downloaded.read() == PDF

    panel.get_by_role("link", name="Delete dues-letter.pdf").click()
    main.get_by_label("Reason").fill("Uploaded to the wrong member")
    page.get_by_role("button", name="Delete").click()

    expect(page).to_have_url(re.compile(rf"/members/{member.pk}/$"))
    expect(panel).to_contain_text("No files are attached.")
    expect(panel.get_by_text("Show deleted (1)")).to_be_visible()
