"""Membership workflows that span rows or models (DOMAIN.md §4.2)."""

from datetime import date

from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone

from attachments.models import Attachment, AttachmentCategory, storage_name
from audit.history import history_reason
from members.models import Member, MemberClassification, MemberStatus
from training.models import Credential, EnrollmentStatus, Student


def credential_note(credential: Credential) -> str:
    """One line for the member's notes, e.g. "OSHA 10 — cert 12345, issued 2026-03-02, expires 2029-03-02"."""
    parts = []
    if credential.certificate_number:
        parts.append(f"cert {credential.certificate_number}")
    parts.append(f"issued {credential.issue_date.isoformat()}")
    parts.append(f"expires {credential.expiration_date.isoformat()}" if credential.expiration_date else "no expiry")
    return f"{credential.name} — {', '.join(parts)}"


@transaction.atomic
def member_convert_graduate(
    *,
    student: Student,
    member_number: str,
    classification: str = MemberClassification.APPRENTICE_1,
    join_date: date | None = None,
    status: str = MemberStatus.ACTIVE,
    user=None,
) -> Member:
    """Turn a student with a completed enrollment into a member, in one transaction.

    Copies names, contact details, address and date of birth; notes one line per credential; copies each
    live attachment of the student's credentials to a new member attachment (category certifications, same
    content and sha256, new storage name). History reason: "converted from student #<id>". Raises
    ValidationError when the student has no completed enrollment or is already linked to a member.
    """
    student = Student.objects.select_for_update().get(pk=student.pk)
    if not student.enrollments.filter(status=EnrollmentStatus.COMPLETED).exists():
        raise ValidationError("Only a student who completed the program (a completed enrollment) can become a member.")
    linked = Member.all_objects.filter(student=student).first()
    if linked is not None:
        raise ValidationError(f"This student is already member {linked.member_number}.")

    credentials = list(student.credentials.order_by("issue_date", "pk"))
    member = Member(
        member_number=(member_number or "").strip().upper(),
        first_name=student.first_name,
        middle_name=student.middle_name,
        last_name=student.last_name,
        email=student.email,
        phone=student.phone,
        address_line1=student.address_line1,
        address_line2=student.address_line2,
        city=student.city,
        state=student.state,
        postal_code=student.postal_code,
        date_of_birth=student.date_of_birth,
        join_date=join_date or timezone.localdate(),
        status=status,
        classification=classification,
        student=student,
        notes="\n".join(credential_note(credential) for credential in credentials),
    )
    member.full_clean()
    stored = []  # files written so far, removed again if anything fails (never a file without a row)
    try:
        with history_reason(f"converted from student #{student.pk}"):
            member.save()
            _copy_credential_attachments(member, credentials, user, stored)
    except BaseException:
        for storage, name in stored:
            storage.delete(name)
        raise
    return member


def _copy_credential_attachments(member, credentials, user, stored) -> None:
    for source in Attachment.objects.filter(
        target_type__app_label="training",
        target_type__model="credential",
        target_id__in=[credential.pk for credential in credentials],
    ).order_by("pk"):
        copy = Attachment(
            target=member,
            original_name=source.original_name,
            content_type=source.content_type,
            size=source.size,
            sha256=source.sha256,
            category=AttachmentCategory.CERTIFICATIONS,
            description=source.description or "Copied from the student's credential.",
            uploaded_by=user,
        )
        storage = source.file.storage
        with storage.open(source.file.name, "rb") as content:
            copy.file.name = storage.save(storage_name(copy, source.original_name), File(content))
        stored.append((storage, copy.file.name))
        copy.save()
