import errno
import hashlib
import io
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile, UploadedFile
from django.db import IntegrityError

from attachments.factories import PDF_BYTES, AttachmentFactory
from attachments.models import MAX_SIZE, Attachment
from attachments.services import (
    attachment_can_download,
    attachment_can_view,
    attachment_upload,
    clean_original_name,
)
from members.factories import MemberEmploymentFactory, MemberFactory
from organizations.factories import OrganizationFactory
from training.factories import CohortFactory, CohortInstructorFactory, CredentialFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


def upload(name="scan.pdf", content=PDF_BYTES, content_type="application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def stored_files(folder):
    return [path for path in folder.rglob("*") if path.is_file()]


def assert_nothing_stored(folder):
    assert (Attachment.all_objects.count(), stored_files(folder)) == (0, [])


def test_attachment_upload_stores_pdf_with_its_size_checksum_and_type(attachments_dir, make_user):
    member, user = MemberFactory(), make_user("staff")

    attachment = attachment_upload(
        target=member, uploaded_file=upload(content_type="text/html"), category="dues", description="2026", user=user
    )

    attachment.refresh_from_db()
    assert attachment.target == member
    assert attachment.file.name == stored_files(attachments_dir)[0].relative_to(attachments_dir).as_posix()
    assert (attachments_dir / attachment.file.name).read_bytes() == PDF_BYTES
    assert (attachment.size, attachment.sha256) == (len(PDF_BYTES), hashlib.sha256(PDF_BYTES).hexdigest())
    assert (attachment.content_type, attachment.original_name) == ("application/pdf", "scan.pdf")
    assert (attachment.category, attachment.description, attachment.uploaded_by) == ("dues", "2026", user)


def test_attachment_upload_names_the_stored_file_by_target_month_and_uuid():
    attachment = attachment_upload(target=MemberFactory(), uploaded_file=upload(), category="general")

    assert re.fullmatch(r"member/\d{4}/\d{2}/[0-9a-f]{32}\.pdf", attachment.file.name)


def test_attachment_upload_takes_the_content_type_from_the_extension_not_the_browser(attachments_dir):
    organization = OrganizationFactory()

    attachment = attachment_upload(
        target=organization,
        uploaded_file=upload("Logo.PNG", PNG_BYTES, content_type="application/x-msdownload"),
        category="contracts",
    )

    assert (attachment.content_type, attachment.original_name) == ("image/png", "Logo.PNG")
    assert re.fullmatch(r"organization/\d{4}/\d{2}/[0-9a-f]{32}\.png", attachment.file.name)
    assert (attachments_dir / attachment.file.name).read_bytes() == PNG_BYTES


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("setup.exe", b"MZ\x90\x00", "Files of this type cannot be attached"),
        ("README", b"plain text", "Files of this type cannot be attached"),
        ("report.pdf", b"<html>not a pdf</html>", "not a valid PDF file"),
        ("photo.png", PDF_BYTES, "not a valid PNG file"),
        ("photo.jpg", b"GIF89a....", "not a valid JPG file"),
        ("photo.jpeg", b"\xff\xd8\x00\x00", "not a valid JPEG file"),
        ("anim.gif", b"GIF88a....", "not a valid GIF file"),
        ("empty.pdf", b"", "The file is empty"),
        ("empty.txt", b"", "The file is empty"),
    ],
)
def test_attachment_upload_refuses_a_bad_file_and_stores_nothing(attachments_dir, name, content, message):
    with pytest.raises(ValidationError, match=message):
        attachment_upload(target=MemberFactory(), uploaded_file=upload(name, content), category="general")

    assert_nothing_stored(attachments_dir)


def test_attachment_upload_refuses_a_category_outside_the_targets_set(attachments_dir):
    with pytest.raises(ValidationError, match="choose one of: Identification, Employment, Certifications, Dues"):
        attachment_upload(target=MemberFactory(), uploaded_file=upload(), category="contracts")

    assert_nothing_stored(attachments_dir)


def test_attachment_upload_refuses_a_model_that_takes_no_attachments(attachments_dir):
    with pytest.raises(ValidationError, match="Files cannot be attached to a cohort"):
        attachment_upload(target=CohortFactory(), uploaded_file=upload(), category="general")

    assert_nothing_stored(attachments_dir)


def test_attachment_upload_refuses_a_soft_deleted_target(attachments_dir):
    member = MemberFactory()
    member.soft_delete(reason="duplicate")

    with pytest.raises(ValidationError, match="This member has been deleted"):
        attachment_upload(target=member, uploaded_file=upload(), category="general")

    assert_nothing_stored(attachments_dir)


def test_attachment_upload_refuses_an_employment_of_a_soft_deleted_member(attachments_dir):
    employment = MemberEmploymentFactory()
    employment.member.soft_delete(reason="duplicate")

    with pytest.raises(ValidationError, match="This employment belongs to a deleted record"):
        attachment_upload(target=employment, uploaded_file=upload(), category="referral")

    assert_nothing_stored(attachments_dir)


def test_attachment_upload_refuses_a_description_over_500_characters(attachments_dir):
    with pytest.raises(ValidationError, match="at most 500 characters"):
        attachment_upload(target=MemberFactory(), uploaded_file=upload(), category="general", description="x" * 501)

    assert_nothing_stored(attachments_dir)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\ana\\Desktop\\scan.pdf", "scan.pdf"),
        ("..\\../\\minutes.pdf", "minutes.pdf"),
        ("re\x00po\x1frt\x7f\u202e.pdf", "report.pdf"),
        ("  Résumé Ana.pdf \t", "Résumé Ana.pdf"),
        ("folder/ .pdf", "file.pdf"),
    ],
)
def test_attachment_upload_sanitises_the_original_name(raw, clean):
    attachment = attachment_upload(
        target=MemberFactory(), uploaded_file=File(io.BytesIO(PDF_BYTES), name=raw), category="general"
    )

    assert attachment.original_name == clean


def test_clean_original_name_shortens_to_255_characters_keeping_the_extension():
    assert clean_original_name("a" * 300 + ".pdf") == "a" * 251 + ".pdf"


def test_attachment_upload_refuses_a_file_over_50_mb_without_storing_it(attachments_dir):
    with TemporaryUploadedFile("big.pdf", "application/pdf", MAX_SIZE + 1, None) as big:
        big.write(b"%PDF-1.4\n")
        big.truncate(MAX_SIZE + 1)  # sparse: no 50 MB in memory or on disk

        with pytest.raises(ValidationError, match="larger than the 50 MB limit"):
            attachment_upload(target=MemberFactory(), uploaded_file=big, category="general")

    assert_nothing_stored(attachments_dir)


def test_attachment_upload_stops_and_removes_a_file_whose_stream_outgrows_its_declared_size(tmp_path, attachments_dir):
    with io.FileIO(tmp_path / "sparse.pdf", "w+") as sparse:
        sparse.write(b"%PDF-1.4\n")
        sparse.truncate(MAX_SIZE + 1)
        lying = UploadedFile(sparse, name="small.pdf", content_type="application/pdf", size=100)

        with pytest.raises(ValidationError, match="larger than the 50 MB limit"):
            attachment_upload(target=MemberFactory(), uploaded_file=lying, category="general")

    assert_nothing_stored(attachments_dir)


def test_attachment_upload_reports_a_full_disk_and_leaves_no_row(attachments_dir, monkeypatch):
    def full_disk(name, content):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Attachment._meta.get_field("file").storage, "_save", full_disk)

    with pytest.raises(ValidationError, match="The file could not be stored"):
        attachment_upload(target=MemberFactory(), uploaded_file=upload(), category="general")

    assert_nothing_stored(attachments_dir)


def test_attachment_upload_removes_the_stored_file_when_the_row_cannot_be_saved(attachments_dir, monkeypatch):
    def failing_save(self, *args, **kwargs):
        raise IntegrityError("simulated")

    monkeypatch.setattr(Attachment, "save", failing_save)

    with pytest.raises(IntegrityError, match="simulated"):
        attachment_upload(target=MemberFactory(), uploaded_file=upload(), category="general")

    assert_nothing_stored(attachments_dir)


# --- Who may list and download -----------------------------------------------------------------------------


@pytest.fixture
def own_cohort(make_user):
    """An instructor user and a cohort they teach."""
    user = make_user("instructor")
    return user, CohortInstructorFactory(instructor__user=user).cohort


@pytest.mark.parametrize(
    ("role", "can_view", "can_download"),
    [
        ("admin", True, True),
        ("officer", True, True),
        ("staff", True, True),
        ("read_only", True, False),
        ("organizer", False, False),
        ("instructor", False, False),
        (None, False, False),
    ],
)
def test_member_attachment_is_listed_and_downloaded_by_role(make_user, role, can_view, can_download):
    user, attachment = make_user(role), AttachmentFactory()

    assert (attachment_can_view(user, attachment), attachment_can_download(user, attachment)) == (
        can_view,
        can_download,
    )


def test_attachment_can_download_lets_an_organizer_reach_organizations_only(make_user):
    user = make_user("organizer")
    on_organization = AttachmentFactory(target_obj=OrganizationFactory())
    on_member = AttachmentFactory()

    assert (attachment_can_download(user, on_organization), attachment_can_download(user, on_member)) == (True, False)


def test_attachment_can_view_lets_an_organizer_list_an_organizations_attachments(make_user):
    assert attachment_can_view(make_user("organizer"), OrganizationFactory()) is True


def test_attachment_can_download_lifts_the_organizer_limit_for_a_user_who_is_also_staff(make_user):
    user = make_user("organizer")
    user.groups.add(*make_user("staff", username="other").groups.all())

    assert attachment_can_download(user, AttachmentFactory()) is True


def test_attachment_can_download_lets_an_instructor_reach_their_own_students_records(own_cohort):
    user, cohort = own_cohort
    enrollment = EnrollmentFactory(cohort=cohort)
    targets = [enrollment.student, enrollment, CredentialFactory(student=enrollment.student)]

    allowed = [attachment_can_download(user, AttachmentFactory(target_obj=target)) for target in targets]

    assert allowed == [True, True, True]


def test_attachment_can_download_keeps_an_instructor_from_other_cohorts_students(own_cohort):
    user, _ = own_cohort
    enrollment = EnrollmentFactory()
    targets = [enrollment.student, enrollment, CredentialFactory(student=enrollment.student)]

    allowed = [attachment_can_download(user, AttachmentFactory(target_obj=target)) for target in targets]

    assert allowed == [False, False, False]


def test_attachment_can_download_keeps_an_instructor_from_another_cohorts_enrollment_of_their_student(own_cohort):
    user, cohort = own_cohort
    student = EnrollmentFactory(cohort=cohort).student
    elsewhere = EnrollmentFactory(student=student)

    assert attachment_can_download(user, AttachmentFactory(target_obj=elsewhere)) is False


@pytest.mark.parametrize(("role", "allowed"), [("admin", True), ("officer", False), ("staff", False)])
def test_attachment_can_download_a_soft_deleted_attachment_only_as_admin(make_user, role, allowed):
    attachment = AttachmentFactory()
    attachment.soft_delete(reason="wrong member")

    assert attachment_can_download(make_user(role), attachment) is allowed


def test_attachment_can_download_a_soft_deleted_attachment_as_superuser(make_user):
    attachment = AttachmentFactory()
    attachment.soft_delete(reason="wrong member")

    assert attachment_can_download(make_user(None, is_superuser=True), attachment) is True


@pytest.mark.parametrize(("role", "allowed"), [("admin", True), ("staff", False)])
def test_attachment_can_download_an_attachment_of_a_soft_deleted_target_only_as_admin(make_user, role, allowed):
    attachment = AttachmentFactory()
    attachment.target.soft_delete(reason="duplicate")
    attachment = Attachment.all_objects.get(pk=attachment.pk)

    assert attachment_can_download(make_user(role), attachment) is allowed
