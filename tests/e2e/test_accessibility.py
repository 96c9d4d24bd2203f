"""Accessibility smoke test: every page has one h1 and a working "Skip to main content" link.

The page probe in conftest.py checks the h1 and the skip link on every page any browser test loads; this test
visits the pages the other tests do not reach, as an administrator (who may open them all).
"""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from attachments.factories import AttachmentFactory
from members.factories import MemberEmploymentFactory
from organizations.factories import OrganizationContactFactory
from training.factories import ClassSessionFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_pages_have_one_h1_and_a_skip_link_that_moves_focus_to_main(page, session_cookie):
    page.context.add_cookies([session_cookie("admin")])
    job = MemberEmploymentFactory()
    member, organization = job.member, job.organization
    contact = OrganizationContactFactory(organization=organization)
    attachment = AttachmentFactory(target_obj=member)
    session = ClassSessionFactory()
    enrollment = EnrollmentFactory(cohort=session.cohort)
    pages = [
        reverse("dashboard"),
        reverse("password_change"),
        reverse("members:member_list"),
        reverse("members:member_create"),
        reverse("members:member_detail", args=[member.pk]),
        reverse("members:member_update", args=[member.pk]),
        reverse("members:member_status", args=[member.pk]),
        reverse("members:member_delete", args=[member.pk]),
        reverse("members:employment_create", args=[member.pk]),
        reverse("members:employment_update", args=[job.pk]),
        reverse("members:employment_end", args=[job.pk]),
        reverse("members:employment_delete", args=[job.pk]),
        reverse("organizations:organization_list"),
        reverse("organizations:organization_create"),
        reverse("organizations:organization_detail", args=[organization.pk]),
        reverse("organizations:organization_update", args=[organization.pk]),
        reverse("organizations:organization_salting", args=[organization.pk]),
        reverse("organizations:organization_delete", args=[organization.pk]),
        reverse("organizations:contact_list"),
        reverse("organizations:contact_create", args=[organization.pk]),
        reverse("organizations:contact_update", args=[contact.pk]),
        reverse("organizations:contact_delete", args=[contact.pk]),
        reverse("members_import"),
        reverse("employments_import"),
        reverse("organizations_import"),
        reverse("contacts_import"),
        reverse("attachments:attachment_upload", args=["members", "member", member.pk]),
        reverse("attachments:attachment_delete", args=[attachment.pk]),
        reverse("search") + "?q=a",
        reverse("training:student_list"),
        reverse("training:student_detail", args=[enrollment.student_id]),
        reverse("training:cohort_list"),
        reverse("training:cohort_detail", args=[session.cohort_id]),
        reverse("training:classsession_detail", args=[session.pk]),
        reverse("training:session_attendance", args=[session.pk]),
        reverse("training:instructor_list"),
        reverse("training:location_list"),
        reverse("training:credential_expiring"),
        reverse("training:jatcapplication_list"),
        reverse("audit:history_list"),
        reverse("audit:accesslog_list"),
    ]

    for url in pages:
        response = page.goto(url)
        assert response.status == 200, url

    assert page.goto("/no-such-page/").status == 404
    page.context.add_cookies([session_cookie("read_only")])
    assert page.goto(reverse("members:member_create")).status == 403
    page.goto(reverse("members:member_list"))
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
