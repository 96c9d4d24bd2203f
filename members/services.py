"""Membership workflows that span rows or models (DOMAIN.md §4.2)."""

from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone

from attachments.models import Attachment, AttachmentCategory, storage_name
from attachments.services import is_admin
from audit.history import history_reason
from ip2a.forms import save_refused_by_database
from members.models import Member, MemberClassification, MemberEmployment, MemberStatus
from organizations.models import Organization
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


# --- Status and employment (DOMAIN.md §3 "Member" transitions, §4.2 MemberEmployment) -----------------------

STATUSES_NEEDING_REASON = (MemberStatus.SUSPENDED, MemberStatus.DECEASED)
STATUSES_ENDING_JOB = (MemberStatus.RETIRED, MemberStatus.DECEASED)


def employment_find_overlap(
    *, member: Member, start_date: date, end_date: date | None = None, exclude_pk: int | None = None
) -> MemberEmployment | None:
    """Return a job of the member whose dates overlap start_date–end_date (no end = ongoing), or None."""
    jobs = member.employments.overlapping(start_date, end_date)
    if exclude_pk is not None:
        jobs = jobs.exclude(pk=exclude_pk)
    return jobs.select_related("organization").order_by("start_date", "pk").first()


@transaction.atomic
def employment_end(*, employment: MemberEmployment, end_date: date, reason: str = "") -> MemberEmployment:
    """End a current job on end_date (not before its start, not after today); it is no longer current."""
    # Locked without a join, as employment_add() locks it: a joined read would miss a job whose employer was
    # changed while it waited for the lock.
    employment = MemberEmployment.objects.select_for_update().get(pk=employment.pk)
    return _end_locked(employment, end_date, reason)


def _end_locked(employment: MemberEmployment, end_date: date, reason: str) -> MemberEmployment:
    """employment_end() of a job its caller has locked and read in this transaction."""
    if not employment.is_current:
        raise ValidationError(f"This job already ended on {employment.end_date.isoformat()}.")
    if end_date < employment.start_date:
        raise ValidationError(
            f"The job cannot end on {end_date.isoformat()}, before it started ({employment.start_date.isoformat()})."
        )
    if end_date > timezone.localdate():
        raise ValidationError("The end date cannot be after today.")
    employment.end_date = end_date
    with history_reason(reason or "job ended"):
        employment.save(update_fields=["end_date"])
    return employment


@transaction.atomic
def employment_add(
    *,
    member: Member,
    organization: Organization,
    start_date: date,
    end_date: date | None = None,
    job_title: str = "",
    hourly_rate: Decimal | None = None,
    notes: str = "",
    end_current: bool = True,
) -> MemberEmployment:
    """Add a job (no overlaps); a current one ends the open job the day before, or is refused if not end_current."""
    member = Member.objects.select_for_update().get(pk=member.pk)  # one add at a time per member
    today = timezone.localdate()
    if end_date is not None and end_date > today:
        raise ValidationError("The end date cannot be after today.")
    if end_date is not None and end_date < start_date:
        raise ValidationError("The end date cannot be before the start date.")
    # The current job, locked as employment_end() locks it before ending it below. Without a join: a row locked
    # after a concurrent change is checked again against the joined rows as first read, so a job whose employer
    # was changed meanwhile would not be found. Its employer is read only for a refusal's message.
    current = member.employments.select_for_update().filter(is_current=True).first()
    if current is not None and end_date is None:
        ended_on = start_date - timedelta(days=1)
        if not end_current:
            raise ValidationError(
                f"{member.full_name} already has a current job: {current}. "
                f"Choose to end it on {ended_on.isoformat()}, or end it first."
            )
        if ended_on < current.start_date:
            raise ValidationError(
                f"The current job ({current}) started on {current.start_date.isoformat()}; "
                "a new current job must start after that day."
            )
        if ended_on > today:
            raise ValidationError(
                f"A new job starting on {start_date.isoformat()} would end the current job on "
                f"{ended_on.isoformat()}, after today. Add the new job once the current one has ended."
            )
        _end_locked(current, ended_on, f"ended by a new job at {organization} from {start_date.isoformat()}")
    employment = MemberEmployment(
        member=member,
        organization=organization,
        start_date=start_date,
        end_date=end_date,
        job_title=job_title,
        hourly_rate=hourly_rate,
        notes=notes,
    )
    # The field and date rules and the overlap with the member's other jobs here; the model's constraints (the end
    # after the start, one current job, a positive rate) on the INSERT: asking them first cost six round trips.
    save_refused_by_database(employment)
    return employment


@transaction.atomic
def member_change_status(
    *, member: Member, status: str, reason: str, user=None, ended_on: date | None = None
) -> Member:
    """Change the status: suspended/deceased need a reason, retired/deceased end the job, deceased is admin-only."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    reason = (reason or "").strip()
    if status not in MemberStatus.values:
        raise ValidationError(f"Unknown member status {status!r}.")
    label = MemberStatus(status).label
    if status == member.status:
        raise ValidationError(f"The member's status is already {label}.")
    if member.status == MemberStatus.DECEASED:
        if user is None or not is_admin(user):
            raise ValidationError("Deceased is final: only an administrator can change this status.")
        if not reason:
            raise ValidationError("A reason is required to change the status of a deceased member.")
    if status in STATUSES_NEEDING_REASON and not reason:
        raise ValidationError(f"A reason is required to set the status to {label}.")
    if status in STATUSES_ENDING_JOB:
        current = member.employments.filter(is_current=True).first()
        if current is not None:
            employment_end(
                employment=current,
                end_date=ended_on or timezone.localdate(),
                reason=reason or f"member status changed to {label}",
            )
    member.status = status
    with history_reason(reason or f"status changed to {label}"):
        member.save(update_fields=["status"])
    return member
