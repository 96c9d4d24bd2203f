import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.template import Context, Template
from django.template.defaultfilters import filesizeformat
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from attachments.factories import PDF_BYTES, AttachmentFactory
from attachments.models import CONTENT_TYPES, MAX_SIZE, Attachment
from attachments.services import attachment_can_download
from members.factories import MemberEmploymentFactory, MemberFactory
from organizations.factories import OrganizationFactory
from training.factories import (
    CohortFactory,
    CohortInstructorFactory,
    CredentialFactory,
    EnrollmentFactory,
    StudentFactory,
)

pytestmark = pytest.mark.django_db

PANEL_INCLUDE = '{% include "attachments/attachment_panel.html" with target=object %}'


def render_panel(user, target, source=PANEL_INCLUDE):
    request = RequestFactory().get("/")
    request.user = user
    return Template(source).render(Context({"request": request, "object": target}))


def download_url(attachment):
    return reverse("attachments:attachment_download", args=[attachment.pk])


def delete_url(attachment):
    return reverse("attachments:attachment_delete", args=[attachment.pk])


def restore_url(attachment):
    return reverse("attachments:attachment_restore", args=[attachment.pk])


def upload_url(target):
    meta = target._meta
    return reverse("attachments:attachment_upload", args=[meta.app_label, meta.model_name, target.pk])


def stored_files(folder):
    return sorted(path for path in folder.rglob("*") if path.is_file())


@pytest.fixture
def instructor(make_user):
    """An instructor user and a student enrolled in a cohort that instructor teaches."""
    user = make_user("instructor")
    cohort = CohortInstructorFactory(instructor__user=user).cohort
    return user, EnrollmentFactory(cohort=cohort).student


# --- The panel ---------------------------------------------------------------------------------------------


def test_attachment_panel_shows_staff_each_row_with_upload_download_and_delete_links(make_user):
    uploader, member = make_user("officer", username="jdoe"), MemberFactory()
    attachment = AttachmentFactory(
        target_obj=member, original_name="dues-2026.pdf", category="dues", description="March", uploaded_by=uploader
    )

    html = render_panel(make_user("staff"), member)

    assert f'<a href="{download_url(attachment)}" download>dues-2026.pdf</a>' in html
    assert "<td>Dues</td>" in html
    assert f"<td>{filesizeformat(len(PDF_BYTES))}</td>" in html
    assert f"{attachment.created_at.astimezone():%Y-%m-%d %H:%M}</time> by jdoe" in html
    assert "<td>March</td>" in html
    assert f'href="{upload_url(member)}"' in html
    assert f'href="{delete_url(attachment)}"' in html


def test_attachment_panel_include_and_tag_render_the_same(make_user):
    member, user = MemberFactory(), make_user("staff")
    AttachmentFactory(target_obj=member)

    tag = render_panel(user, member, "{% load attachments %}{% attachment_panel object %}")

    assert render_panel(user, member).strip() == tag.strip()


def test_attachment_panel_shows_read_only_the_list_without_any_link(make_user):
    member = MemberFactory()
    attachment = AttachmentFactory(target_obj=member, original_name="id-card.pdf")

    html = render_panel(make_user("read_only"), member)

    assert "<td>id-card.pdf</td>" in html
    assert download_url(attachment) not in html
    assert upload_url(member) not in html
    assert delete_url(attachment) not in html


def test_attachment_panel_shows_an_organizer_an_organizations_files_with_every_link(make_user):
    organization = OrganizationFactory()
    attachment = AttachmentFactory(target_obj=organization)

    html = render_panel(make_user("organizer"), organization)

    assert [url in html for url in (download_url(attachment), upload_url(organization), delete_url(attachment))] == [
        True,
        True,
        True,
    ]


def test_attachment_panel_is_hidden_from_an_organizer_on_a_member(make_user):
    member = MemberFactory()
    AttachmentFactory(target_obj=member)

    assert render_panel(make_user("organizer"), member).strip() == ""


def test_attachment_panel_is_hidden_from_an_instructor_on_a_member(instructor):
    member = MemberFactory()
    AttachmentFactory(target_obj=member)

    assert render_panel(instructor[0], member).strip() == ""


def test_attachment_panel_shows_an_instructor_their_own_students_files(instructor):
    user, student = instructor
    attachment = AttachmentFactory(target_obj=student)

    html = render_panel(user, student)

    assert [url in html for url in (download_url(attachment), upload_url(student), delete_url(attachment))] == [
        True,
        True,
        True,
    ]


def test_attachment_panel_is_hidden_from_an_instructor_on_another_cohorts_student(instructor):
    student = StudentFactory()
    AttachmentFactory(target_obj=student)

    assert render_panel(instructor[0], student).strip() == ""


def test_attachment_panel_links_downloads_exactly_where_the_download_rule_allows(make_user, any_role):
    user, organization = make_user(any_role), OrganizationFactory()
    attachment = AttachmentFactory(target_obj=organization)

    html = render_panel(user, organization)

    assert (download_url(attachment) in html) is attachment_can_download(user, attachment)


def test_attachment_panel_says_when_no_file_is_attached(make_user):
    html = render_panel(make_user("staff"), MemberFactory())

    assert "No files are attached." in html


def test_attachment_panel_escapes_names_and_descriptions(make_user):
    member = MemberFactory()
    AttachmentFactory(target_obj=member, original_name="<b>x</b>.pdf", description="<script>alert(1)</script>")

    html = render_panel(make_user("staff"), member)

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt;.pdf" in html


@pytest.mark.parametrize(
    "make_target",
    [
        MemberFactory,
        MemberEmploymentFactory,
        OrganizationFactory,
        StudentFactory,
        EnrollmentFactory,
        CredentialFactory,
    ],
)
def test_attachment_panel_renders_for_every_target_model(make_user, make_target):
    target = make_target()
    attachment = AttachmentFactory(target_obj=target, original_name="scan.pdf")

    html = render_panel(make_user("admin"), target)

    assert [url in html for url in (download_url(attachment), upload_url(target))] == [True, True]


def test_attachment_panel_renders_nothing_for_a_model_that_takes_no_attachments(make_user):
    assert render_panel(make_user("admin"), CohortFactory()).strip() == ""


def test_attachment_panel_lists_only_the_targets_own_files(make_user):
    member, other = MemberFactory(), MemberFactory()
    AttachmentFactory(target_obj=other, original_name="other.pdf")

    html = render_panel(make_user("staff"), member)

    assert "other.pdf" not in html


def test_attachment_panel_renders_nothing_when_the_page_passes_no_target(make_user):
    html = render_panel(make_user("admin"), None, '{% include "attachments/attachment_panel.html" %}')

    assert html.strip() == ""


def test_attachment_panel_is_hidden_from_staff_while_the_target_is_deleted(make_user):
    member = MemberFactory()
    AttachmentFactory(target_obj=member)
    member.soft_delete(reason="duplicate record")

    assert render_panel(make_user("staff"), member).strip() == ""


def test_attachment_panel_shows_staff_deleted_files_with_restore_links_but_no_download(make_user):
    member = MemberFactory()
    attachment = AttachmentFactory(target_obj=member, original_name="old.pdf")
    attachment.soft_delete(reason="uploaded twice")

    html = render_panel(make_user("staff"), member)

    assert "Show deleted (1)" in html
    assert f'href="{restore_url(attachment)}"' in html
    assert download_url(attachment) not in html


def test_attachment_panel_lets_an_admin_download_a_deleted_file(make_user):
    member = MemberFactory()
    attachment = AttachmentFactory(target_obj=member)
    attachment.soft_delete(reason="uploaded twice")

    html = render_panel(make_user("admin"), member)

    assert (f'href="{restore_url(attachment)}"' in html, download_url(attachment) in html) == (True, True)


def test_attachment_panel_hides_deleted_files_from_read_only(make_user):
    member = MemberFactory()
    attachment = AttachmentFactory(target_obj=member, original_name="old.pdf")
    attachment.soft_delete(reason="uploaded twice")

    html = render_panel(make_user("read_only"), member)

    assert ("old.pdf" in html, "Show deleted" in html, restore_url(attachment) in html) == (False, False, False)


def count_panel_queries(user, target):
    with CaptureQueriesContext(connection) as queries:
        render_panel(user, target)
    return len(queries)


def test_attachment_panel_runs_a_fixed_number_of_queries(make_user, django_assert_num_queries):
    member, user = MemberFactory(), make_user("staff")
    AttachmentFactory.create_batch(20, target_obj=member, uploaded_by=make_user("officer"))
    for attachment in AttachmentFactory.create_batch(3, target_obj=member):
        attachment.soft_delete(reason="uploaded twice")

    # 1 read of the user's roles and permissions (ip2a.auth.grants), 1 for every row (uploaders joined)
    with django_assert_num_queries(2):
        render_panel(user, member)


def test_attachment_panel_query_count_does_not_grow_with_the_rows(make_user):
    one, many, user = MemberFactory(), MemberFactory(), make_user("staff")
    AttachmentFactory(target_obj=one, uploaded_by=user)
    AttachmentFactory.create_batch(20, target_obj=many, uploaded_by=user)
    count_panel_queries(user, one)  # warm the permission cache once for both

    assert count_panel_queries(user, many) == count_panel_queries(user, one)


# --- Upload ------------------------------------------------------------------------------------------------


def post_upload(client, target, name="contract.pdf", content=PDF_BYTES, category="general", description=""):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    return client.post(upload_url(target), {"file": upload, "category": category, "description": description})


def test_attachment_upload_page_offers_the_targets_categories(role_client):
    response = role_client("staff").get(upload_url(OrganizationFactory()))

    assert response.status_code == 200
    assert [value for value, _ in response.context["form"].fields["category"].choices] == [
        "contracts",
        "correspondence",
        "salting",
        "grievances",
        "general",
    ]
    assert b'enctype="multipart/form-data"' in response.content


def test_attachment_upload_stores_the_file_and_returns_to_the_record(client, make_user, attachments_dir):
    user, member = make_user("staff"), MemberFactory()
    client.force_login(user)

    response = post_upload(client, member, name="dues.pdf", category="dues", description="Receipt")

    assert (response.status_code, response["Location"]) == (302, member.get_absolute_url())
    attachment = Attachment.objects.get()
    assert (attachment.target, attachment.original_name, attachment.category) == (member, "dues.pdf", "dues")
    assert (attachment.description, attachment.uploaded_by) == ("Receipt", user)
    assert (attachments_dir / attachment.file.name).read_bytes() == PDF_BYTES
    assert [str(m) for m in get_messages(response.wsgi_request)] == [f"Attached “dues.pdf” to member “{member}”."]


def files_url(target):
    return reverse("attachments:attachment_files", args=[target._meta.app_label, target._meta.model_name, target.pk])


def test_attachment_upload_to_an_employment_returns_to_its_files_page(role_client):
    employment = MemberEmploymentFactory()

    response = post_upload(role_client("staff"), employment, category="pay_records")

    assert (response.status_code, response["Location"]) == (302, files_url(employment))


def test_attachment_files_page_of_an_employment_lists_its_files_and_leads_back_to_the_member(role_client):
    employment = MemberEmploymentFactory()
    AttachmentFactory(target_obj=employment, original_name="paystub-march.pdf")

    response = role_client("read_only").get(files_url(employment))

    html = response.content.decode()
    assert response.status_code == 200
    assert "paystub-march.pdf" in html
    assert f'<a class="button" href="{employment.member.get_absolute_url()}">Back</a>' in html


@pytest.mark.parametrize(("role", "status"), [("staff", 200), ("organizer", 403), ("instructor", 403)])
def test_attachment_files_page_of_an_employment_by_role(role_client, role, status):
    assert role_client(role).get(files_url(MemberEmploymentFactory())).status_code == status


def test_attachment_files_page_lets_an_instructor_see_only_their_own_cohorts_enrollments(client, instructor):
    user, student = instructor
    client.force_login(user)
    own = student.enrollments.get()
    other = EnrollmentFactory()

    assert client.get(files_url(own)).status_code == 200
    assert client.get(files_url(other)).status_code == 403


def test_attachment_files_page_of_a_record_with_its_own_page_redirects_there(role_client):
    member = MemberFactory()

    response = role_client("staff").get(files_url(member))

    assert (response.status_code, response["Location"]) == (302, member.get_absolute_url())


def test_member_page_links_each_job_to_its_files_with_their_count(role_client):
    employment = MemberEmploymentFactory()
    AttachmentFactory.create_batch(2, target_obj=employment)

    html = role_client("staff").get(employment.member.get_absolute_url()).content.decode()

    assert f'<a href="{files_url(employment)}" aria-label="Files of this job">2</a>' in html


def test_attachment_upload_lets_an_instructor_attach_to_their_own_student(client, instructor):
    user, student = instructor
    client.force_login(user)

    response = post_upload(client, student, category="progress")

    assert (response.status_code, Attachment.objects.get().target) == (302, student)


ALLOWED = ", ".join(CONTENT_TYPES)


@pytest.mark.parametrize(
    ("name", "content", "category", "errors"),
    [
        (
            "tool.exe",
            b"MZ\x90\x00",
            "general",
            {"__all__": [f"Files of this type cannot be attached. Allowed: {ALLOWED}."]},
        ),
        ("scan.pdf", b"<html></html>", "general", {"__all__": ["The file's content is not a valid PDF file."]}),
        ("photo.png", PDF_BYTES, "general", {"__all__": ["The file's content is not a valid PNG file."]}),
        ("empty.pdf", b"", "general", {"file": ["The submitted file is empty."]}),
        (
            "scan.pdf",
            PDF_BYTES,
            "dues",
            {"category": ["Select a valid choice. dues is not one of the available choices."]},
        ),
    ],
)
def test_attachment_upload_refuses_a_file_with_the_rules_message(
    role_client, attachments_dir, name, content, category, errors
):
    response = post_upload(role_client("staff"), OrganizationFactory(), name=name, content=content, category=category)

    assert response.status_code == 400
    assert response.context["form"].errors == errors
    assert (Attachment.all_objects.count(), stored_files(attachments_dir)) == (0, [])


def test_attachment_upload_refuses_a_file_over_50_mb(role_client, attachments_dir):
    content = b"%PDF-" + b"\0" * (MAX_SIZE - 4)

    response = post_upload(role_client("staff"), MemberFactory(), name="huge.pdf", content=content)

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        f"The file is larger than the 50 MB limit ({MAX_SIZE + 1:,} bytes)."
    ]
    assert (Attachment.all_objects.count(), stored_files(attachments_dir)) == (0, [])


def test_attachment_upload_shows_the_rules_message_on_the_page(role_client):
    response = post_upload(role_client("staff"), MemberFactory(), name="scan.pdf", content=b"<html>")

    assert b"The file&#x27;s content is not a valid PDF file." in response.content


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("officer", 200), ("staff", 200), ("organizer", 403), ("instructor", 403), ("read_only", 403)],
)
def test_attachment_upload_page_on_a_member_by_role(role_client, role, status):
    assert role_client(role).get(upload_url(MemberFactory())).status_code == status


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("officer", 200), ("staff", 200), ("organizer", 200), ("instructor", 403), ("read_only", 403)],
)
def test_attachment_upload_page_on_an_organization_by_role(role_client, role, status):
    assert role_client(role).get(upload_url(OrganizationFactory())).status_code == status


def test_attachment_upload_is_forbidden_to_an_instructor_on_another_cohorts_student(client, instructor):
    client.force_login(instructor[0])

    response = post_upload(client, StudentFactory())

    assert (response.status_code, Attachment.all_objects.count()) == (403, 0)


def test_attachment_upload_is_forbidden_to_read_only_and_stores_nothing(role_client, attachments_dir):
    response = post_upload(role_client("read_only"), MemberFactory())

    assert (response.status_code, Attachment.all_objects.count(), stored_files(attachments_dir)) == (403, 0, [])


@pytest.mark.parametrize(
    "url",
    [
        "/attachments/training/cohort/1/new/",
        "/attachments/nothing/here/1/new/",
        "/attachments/members/member/999999/new/",
    ],
)
def test_attachment_upload_answers_404_for_an_unknown_target(role_client, url):
    assert role_client("admin").get(url).status_code == 404


def test_attachment_upload_answers_404_for_a_deleted_target(role_client):
    member = MemberFactory()
    member.soft_delete(reason="duplicate record")

    assert role_client("admin").get(upload_url(member)).status_code == 404


def test_attachment_upload_answers_404_for_a_credential_of_a_deleted_student(role_client):
    credential = CredentialFactory()
    credential.student.soft_delete(reason="duplicate record")

    assert role_client("admin").get(upload_url(credential)).status_code == 404


def test_attachment_upload_sends_anonymous_users_to_the_login_page(client):
    url = upload_url(MemberFactory())

    response = client.get(url)

    assert (response.status_code, response.url) == (302, f"{reverse('login')}?next={url}")


# --- Soft delete and restore -------------------------------------------------------------------------------


def latest_reason(attachment):
    return attachment.events.order_by("-pgh_id").first().pgh_context["reason"]


def test_attachment_delete_page_asks_for_a_reason(role_client):
    attachment = AttachmentFactory()

    response = role_client("staff").get(delete_url(attachment))

    assert response.status_code == 200
    assert "reason" in response.context["form"].fields
    assert f'href="{attachment.target.get_absolute_url()}"'.encode() in response.content


def test_attachment_delete_hides_the_row_keeps_the_file_and_records_the_reason(role_client, attachments_dir):
    attachment = AttachmentFactory()

    response = role_client("staff").post(delete_url(attachment), {"reason": "uploaded to the wrong member"})

    assert (response.status_code, response["Location"]) == (302, attachment.target.get_absolute_url())
    attachment.refresh_from_db()
    assert attachment.is_deleted
    assert (attachments_dir / attachment.file.name).read_bytes() == PDF_BYTES
    assert latest_reason(attachment) == "uploaded to the wrong member"


def test_attachment_delete_without_a_reason_is_refused(role_client):
    attachment = AttachmentFactory()

    response = role_client("staff").post(delete_url(attachment), {"reason": ""})

    attachment.refresh_from_db()
    assert (response.status_code, attachment.is_deleted) == (400, False)
    assert response.context["form"].errors == {"reason": ["This field is required."]}


def test_attachment_delete_of_an_employment_file_returns_to_its_files_page(role_client):
    employment = MemberEmploymentFactory()

    response = role_client("staff").post(delete_url(AttachmentFactory(target_obj=employment)), {"reason": "wrong job"})

    assert response["Location"] == files_url(employment)


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("officer", 200), ("staff", 200), ("organizer", 403), ("instructor", 403), ("read_only", 403)],
)
def test_attachment_delete_of_a_member_file_by_role(role_client, role, status):
    assert role_client(role).get(delete_url(AttachmentFactory())).status_code == status


def test_attachment_delete_lets_an_organizer_remove_an_organizations_file(role_client):
    attachment = AttachmentFactory(target_obj=OrganizationFactory())

    response = role_client("organizer").post(delete_url(attachment), {"reason": "superseded contract"})

    attachment.refresh_from_db()
    assert (response.status_code, attachment.is_deleted) == (302, True)


def test_attachment_delete_answers_404_for_a_deleted_attachment(role_client):
    attachment = AttachmentFactory()
    attachment.soft_delete(reason="uploaded twice")

    assert role_client("admin").get(delete_url(attachment)).status_code == 404


def test_attachment_restore_brings_the_row_back_with_the_reason(role_client):
    attachment = AttachmentFactory()
    attachment.soft_delete(reason="uploaded twice")

    response = role_client("staff").post(restore_url(attachment), {"reason": "it was the only copy"})

    assert (response.status_code, response["Location"]) == (302, attachment.target.get_absolute_url())
    attachment.refresh_from_db()
    assert attachment.is_deleted is False
    assert latest_reason(attachment) == "it was the only copy"


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 302), ("officer", 302), ("staff", 302), ("organizer", 403), ("instructor", 403), ("read_only", 403)],
)
def test_attachment_restore_of_a_member_file_by_role(role_client, role, status):
    attachment = AttachmentFactory()
    attachment.soft_delete(reason="uploaded twice")

    response = role_client(role).post(restore_url(attachment), {"reason": "needed after all"})

    attachment.refresh_from_db()
    assert (response.status_code, attachment.is_deleted) == (status, status == 403)


def test_attachment_restore_lets_an_instructor_restore_their_own_students_file(client, instructor):
    user, student = instructor
    attachment = AttachmentFactory(target_obj=student)
    attachment.soft_delete(reason="uploaded twice")
    client.force_login(user)

    response = client.post(restore_url(attachment), {"reason": "needed after all"})

    assert response.status_code == 302


def test_attachment_restore_answers_404_for_a_live_attachment(role_client):
    assert role_client("admin").get(restore_url(AttachmentFactory())).status_code == 404


def test_attachment_restore_of_a_deleted_targets_file_is_for_admins_only(role_client):
    attachment = AttachmentFactory()
    attachment.soft_delete(reason="uploaded twice")
    attachment.target.soft_delete(reason="duplicate record")

    assert role_client("staff").get(restore_url(attachment)).status_code == 403


def test_student_page_links_enrollments_and_credentials_to_their_files(role_client):
    enrollment = EnrollmentFactory()
    credential = CredentialFactory(student=enrollment.student)
    AttachmentFactory(target_obj=credential)

    html = role_client("staff").get(enrollment.student.get_absolute_url()).content.decode()

    assert f'<a href="{files_url(enrollment)}" aria-label="Files of this enrollment">0</a>' in html
    assert f'<a href="{files_url(credential)}" aria-label="Files of this credential">1</a>' in html
