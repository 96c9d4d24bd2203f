import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError

from attachments.factories import AttachmentFactory
from attachments.models import Attachment, AttachmentCategory
from audit.history import history_context
from members.models import Member, MemberClassification, MemberStatus
from members.services import member_convert_graduate
from training.factories import CredentialFactory, EnrollmentFactory, StudentFactory
from training.models import EnrollmentStatus

pytestmark = pytest.mark.django_db


def graduate(**fields):
    student = StudentFactory(phone="206-555-0100", city="Tacoma", state="WA", **fields)
    EnrollmentFactory(student=student, status=EnrollmentStatus.COMPLETED, completed_on=dt.date(2026, 11, 20))
    return student


def test_convert_graduate_copies_the_person_and_links_the_student():
    student = graduate(date_of_birth=dt.date(2001, 5, 4))

    member = member_convert_graduate(student=student, member_number=" a1234567 ", join_date=dt.date(2026, 11, 1))

    member.refresh_from_db()
    assert member.member_number == "A1234567"
    assert (member.first_name, member.last_name, member.email) == (
        student.first_name,
        student.last_name,
        student.email,
    )
    assert (member.phone, member.city, member.state) == ("206-555-0100", "Tacoma", "WA")
    assert member.date_of_birth == dt.date(2001, 5, 4)
    assert member.student == student
    assert (member.classification, member.status) == (MemberClassification.APPRENTICE_1, MemberStatus.ACTIVE)
    assert member.join_date == dt.date(2026, 11, 1)


def test_convert_graduate_notes_each_credential():
    student = graduate()
    CredentialFactory(student=student, name="OSHA 10", certificate_number="12345", issue_date=dt.date(2026, 3, 2),
                      expiration_date=dt.date(2029, 3, 2))  # fmt: skip
    CredentialFactory(student=student, name="Flagger", certificate_number="", issue_date=dt.date(2026, 4, 1),
                      expiration_date=None)  # fmt: skip

    member = member_convert_graduate(student=student, member_number="1234567")

    assert member.notes.splitlines() == [
        "OSHA 10 — cert 12345, issued 2026-03-02, expires 2029-03-02",
        "Flagger — issued 2026-04-01, no expiry",
    ]


def test_convert_graduate_copies_credential_attachments_as_certifications(attachments_dir):
    student = graduate()
    credential = CredentialFactory(student=student)
    source = AttachmentFactory(target_obj=credential, category=AttachmentCategory.CERTIFICATE)
    AttachmentFactory(target_obj=credential, deleted_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))  # deleted: skipped

    member = member_convert_graduate(student=student, member_number="1234567")

    copies = Attachment.objects.filter(target_type=ContentType.objects.get_for_model(Member), target_id=member.pk)
    assert copies.count() == 1
    copy = copies.get()
    assert copy.category == AttachmentCategory.CERTIFICATIONS
    assert (copy.sha256, copy.size, copy.original_name) == (source.sha256, source.size, source.original_name)
    assert copy.file.name != source.file.name
    assert (attachments_dir / copy.file.name).read_bytes() == (attachments_dir / source.file.name).read_bytes()
    assert Attachment.objects.filter(pk=source.pk).exists()  # the credential keeps its file


def test_convert_graduate_records_the_reason_in_history():
    student = graduate()

    with history_context(source="web", reason=""):
        member = member_convert_graduate(student=student, member_number="1234567")

    event = member.events.get(pgh_label="insert")
    assert event.pgh_context["reason"] == f"converted from student #{student.pk}"


def test_convert_requires_a_completed_enrollment():
    student = StudentFactory()
    EnrollmentFactory(student=student, status=EnrollmentStatus.IN_PROGRESS)

    with pytest.raises(ValidationError, match="completed the program"):
        member_convert_graduate(student=student, member_number="1234567")
    assert not Member.objects.exists()


def test_convert_refuses_a_student_already_linked():
    student = graduate()
    member_convert_graduate(student=student, member_number="1234567")

    with pytest.raises(ValidationError, match="already member 1234567"):
        member_convert_graduate(student=student, member_number="7654321")


def test_convert_with_a_bad_member_number_writes_nothing(attachments_dir):
    student = graduate()
    AttachmentFactory(target_obj=CredentialFactory(student=student))
    files_before = sorted(p.name for p in attachments_dir.rglob("*") if p.is_file())

    with pytest.raises(ValidationError, match="5 to 10 digits"):
        member_convert_graduate(student=student, member_number="12")

    assert not Member.objects.exists()
    assert sorted(p.name for p in attachments_dir.rglob("*") if p.is_file()) == files_before


def test_convert_failing_midway_removes_the_copied_files(attachments_dir, monkeypatch):
    student = graduate()
    credential = CredentialFactory(student=student)
    AttachmentFactory(target_obj=credential)
    AttachmentFactory(target_obj=credential)
    files_before = sorted(str(p) for p in attachments_dir.rglob("*") if p.is_file())
    saves = {"count": 0}
    original_save = Attachment.save

    def fail_second(self, *args, **kwargs):
        if self.target_type.model == "member":
            saves["count"] += 1
            if saves["count"] == 2:
                raise OSError("disk full")
        return original_save(self, *args, **kwargs)

    monkeypatch.setattr(Attachment, "save", fail_second)

    with pytest.raises(OSError, match="disk full"):
        member_convert_graduate(student=student, member_number="1234567")

    assert not Member.objects.exists()
    assert sorted(str(p) for p in attachments_dir.rglob("*") if p.is_file()) == files_before
