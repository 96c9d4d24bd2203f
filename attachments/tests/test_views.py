import logging

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from attachments.factories import PDF_BYTES, AttachmentFactory
from attachments.models import Attachment
from audit.models import AccessLog
from organizations.factories import OrganizationFactory
from training.factories import CohortInstructorFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db


def download_url(attachment):
    return reverse("attachments:attachment_download", args=[attachment.pk])


def test_attachment_download_streams_the_file_with_safe_headers(role_client):
    attachment = AttachmentFactory(original_name="document.pdf")

    response = role_client("staff").get(download_url(attachment))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="document.pdf"'
    assert response["Content-Length"] == str(len(PDF_BYTES))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"


def test_attachment_download_names_the_file_in_utf8(role_client):
    attachment = AttachmentFactory(original_name="Résumé Ana.pdf")

    response = role_client("staff").get(download_url(attachment))

    assert response["Content-Disposition"] == "attachment; filename*=utf-8''R%C3%A9sum%C3%A9%20Ana.pdf"


def test_attachment_download_writes_one_access_log_row(client, make_user):
    user, attachment = make_user("officer"), AttachmentFactory()
    client.force_login(user)

    client.get(download_url(attachment))

    log = AccessLog.objects.get()
    assert (log.action, log.user, log.username) == ("download", user, user.username)
    assert (log.target_type, log.target_id) == (ContentType.objects.get_for_model(Attachment), attachment.pk)
    assert log.path == download_url(attachment)


def test_attachment_download_is_forbidden_to_read_only_and_not_logged(role_client):
    response = role_client("read_only").get(download_url(AttachmentFactory()))

    assert (response.status_code, AccessLog.objects.count()) == (403, 0)


def test_attachment_download_lets_an_organizer_fetch_an_organization_file(role_client):
    response = role_client("organizer").get(download_url(AttachmentFactory(target_obj=OrganizationFactory())))

    assert response.status_code == 200


def test_attachment_download_is_forbidden_to_an_organizer_on_a_member_file(role_client):
    response = role_client("organizer").get(download_url(AttachmentFactory()))

    assert response.status_code == 403


@pytest.fixture
def instructor_client(client, make_user):
    """A client logged in as an instructor, and the cohort that instructor teaches."""
    user = make_user("instructor")
    client.force_login(user)
    return client, CohortInstructorFactory(instructor__user=user).cohort


def test_attachment_download_lets_an_instructor_fetch_a_file_of_their_own_student(instructor_client):
    client, cohort = instructor_client
    attachment = AttachmentFactory(target_obj=EnrollmentFactory(cohort=cohort).student)

    assert client.get(download_url(attachment)).status_code == 200


def test_attachment_download_is_forbidden_to_an_instructor_on_another_cohorts_student(instructor_client):
    client, _ = instructor_client
    attachment = AttachmentFactory(target_obj=EnrollmentFactory().student)

    assert client.get(download_url(attachment)).status_code == 403


@pytest.mark.parametrize(("role", "status"), [("staff", 403), ("admin", 200)])
def test_attachment_download_of_a_soft_deleted_file_is_for_admins_only(role_client, role, status):
    attachment = AttachmentFactory()
    attachment.soft_delete(reason="uploaded twice")

    assert role_client(role).get(download_url(attachment)).status_code == status


def test_attachment_download_answers_404_without_a_traceback_when_the_file_is_missing(role_client, caplog):
    attachment = AttachmentFactory()
    attachment.file.storage.delete(attachment.file.name)

    with caplog.at_level(logging.WARNING, logger="attachments.views"):
        response = role_client("staff").get(download_url(attachment))

    assert response.status_code == 404
    assert b"Traceback" not in response.content
    assert b"Page not found" in response.content
    assert f"Attachment {attachment.pk}: its stored file" in caplog.text
    assert AccessLog.objects.count() == 0


def test_attachment_download_answers_404_for_an_unknown_attachment(role_client):
    response = role_client("admin").get(reverse("attachments:attachment_download", args=[999_999]))

    assert response.status_code == 404


def test_attachment_download_sends_anonymous_users_to_the_login_page(client):
    url = download_url(AttachmentFactory())

    response = client.get(url)

    assert (response.status_code, response.url) == (302, f"{reverse('login')}?next={url}")


def test_attachment_download_refuses_post(role_client):
    response = role_client("staff").post(download_url(AttachmentFactory()))

    assert response.status_code == 405
