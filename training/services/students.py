"""Student workflows (DOMAIN.md §3, §4.3): enrollments and their status, credential renewal, JATC applications.

Every function is one transaction that locks the rows it decides on, refuses with a ValidationError whose
message a form can show, and puts its reason into the history context. Status changes follow the transitions
of DOMAIN.md §3; an administrator (``user`` in the admin role) may make any other change, with a reason.
"""

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from attachments.services import is_admin
from audit.history import history_reason
from training.models import (
    DECIDED_APPLICATION,
    OPEN_ENROLLMENT,
    SEAT_TAKING,
    ApplicationStatus,
    Cohort,
    CohortStatus,
    Credential,
    CredentialStatus,
    Enrollment,
    EnrollmentStatus,
    JATCApplication,
    Student,
)

ENROLLMENT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    EnrollmentStatus.ENROLLED: (
        EnrollmentStatus.IN_PROGRESS,
        EnrollmentStatus.DROPPED,
        EnrollmentStatus.WITHDRAWN,
        EnrollmentStatus.DEFERRED,
    ),
    EnrollmentStatus.IN_PROGRESS: (
        EnrollmentStatus.COMPLETED,
        EnrollmentStatus.DROPPED,
        EnrollmentStatus.WITHDRAWN,
        EnrollmentStatus.DEFERRED,
    ),
}

# The page verbs of the enrollment status changes (/training/enrollments/<pk>/<verb>/).
ENROLLMENT_VERBS: dict[str, str] = {
    "start": EnrollmentStatus.IN_PROGRESS,
    "complete": EnrollmentStatus.COMPLETED,
    "drop": EnrollmentStatus.DROPPED,
    "withdraw": EnrollmentStatus.WITHDRAWN,
    "defer": EnrollmentStatus.DEFERRED,
}

_NON_FINAL_APPLICATION = (
    ApplicationStatus.DRAFT,
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.UNDER_REVIEW,
    ApplicationStatus.INTERVIEW_SCHEDULED,
    ApplicationStatus.INTERVIEWED,
    ApplicationStatus.WAITLISTED,
)
_APPLICATION_NEXT = {
    ApplicationStatus.DRAFT: (ApplicationStatus.SUBMITTED,),
    ApplicationStatus.SUBMITTED: (ApplicationStatus.UNDER_REVIEW,),
    ApplicationStatus.UNDER_REVIEW: (ApplicationStatus.INTERVIEW_SCHEDULED,),
    ApplicationStatus.INTERVIEW_SCHEDULED: (ApplicationStatus.INTERVIEWED,),
    ApplicationStatus.INTERVIEWED: DECIDED_APPLICATION,
    ApplicationStatus.WAITLISTED: (ApplicationStatus.ACCEPTED, ApplicationStatus.REJECTED),
}
APPLICATION_TRANSITIONS: dict[str, tuple[str, ...]] = {
    status: (*_APPLICATION_NEXT.get(status, ()), ApplicationStatus.WITHDRAWN) for status in _NON_FINAL_APPLICATION
}

# Renewal is the only way to "renewed"; the edit form offers the other changes of §3.
CREDENTIAL_TRANSITIONS: dict[str, tuple[str, ...]] = {
    CredentialStatus.PENDING: (CredentialStatus.ACTIVE,),
    CredentialStatus.ACTIVE: (CredentialStatus.EXPIRED, CredentialStatus.REVOKED),
}
RENEWABLE_CREDENTIAL = (CredentialStatus.ACTIVE, CredentialStatus.EXPIRED)


def _check_transition(*, kind: str, labels, current: str, status: str, allowed, user, reason: str) -> bool:
    """Refuse a status change outside ``allowed`` unless an administrator gives a reason; return whether it is
    such an override."""
    if status not in labels.values:
        raise ValidationError(f"Unknown {kind} status {status!r}.")
    if status == current:
        raise ValidationError(f"The {kind} is already {labels(status).label}.")
    if status in allowed.get(current, ()):
        return False
    refusal = f"An {kind} that is {labels(current).label} cannot become {labels(status).label}."
    if user is None or not is_admin(user):
        raise ValidationError(refusal)
    if not reason.strip():
        raise ValidationError(f"{refusal} An administrator may override this only with a reason.")
    return True


def _full_clean(obj) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        raise ValidationError(exc.messages) from exc  # callers show them as messages of the whole form


def _cohort_dates(cohort: Cohort) -> str:
    end = cohort.end_date.isoformat() if cohort.end_date else "open end"
    return f"{cohort.start_date.isoformat()} – {end}"


def _check_seat(cohort: Cohort, *, exclude_pk: int | None = None) -> None:
    """Refuse when the (locked) cohort has no free place; enrolled, in progress and completed take a place, as the
    cohort pages, the cohort form and the integrity check COH-004 count them (soft-deleted students left out)."""
    if cohort.max_students is None:
        return
    taken = (
        Enrollment.objects.filter(cohort=cohort, status__in=SEAT_TAKING, student__deleted_at__isnull=True)
        .exclude(pk=exclude_pk)
        .count()
    )
    if taken >= cohort.max_students:
        raise ValidationError(f"{cohort} is full: {taken} of {cohort.max_students} places are taken.")


def _check_no_overlapping_open_enrollment(student: Student, cohort: Cohort, *, exclude_pk: int | None = None) -> None:
    """Refuse a second open enrollment of the student in a cohort whose dates overlap this one's."""
    overlapping = Enrollment.objects.open().filter(student=student).exclude(pk=exclude_pk)
    overlapping = overlapping.filter(Q(cohort__end_date__isnull=True) | Q(cohort__end_date__gte=cohort.start_date))
    if cohort.end_date is not None:
        overlapping = overlapping.filter(cohort__start_date__lte=cohort.end_date)
    other = overlapping.select_related("cohort").order_by("cohort__start_date", "pk").first()
    if other is not None:
        raise ValidationError(
            f"{student} is already {other.get_status_display().lower()} in {other.cohort} "
            f"({_cohort_dates(other.cohort)}), whose dates overlap {cohort} ({_cohort_dates(cohort)})."
        )


@transaction.atomic
def enrollment_create(
    *, student: Student, cohort: Cohort, enrolled_on: date | None = None, notes: str = "", reason: str = ""
) -> Enrollment:
    """Enroll a student in a cohort: never a cancelled or completed cohort, never past its capacity (the cohort
    row is locked while counting), never a second open enrollment in a cohort with overlapping dates."""
    cohort = Cohort.objects.select_for_update().filter(pk=cohort.pk).first()
    if cohort is None:
        raise ValidationError("This cohort was deleted.")
    student = Student.objects.select_for_update().filter(pk=student.pk).first()  # one enrollment at a time
    if student is None:
        raise ValidationError("This student was deleted.")
    if cohort.status in (CohortStatus.CANCELLED, CohortStatus.COMPLETED):
        raise ValidationError(f"{cohort} is {cohort.get_status_display().lower()}: it takes no new enrollments.")
    if Enrollment.objects.filter(student=student, cohort=cohort).exists():
        raise ValidationError(f"{student} already has an enrollment in {cohort}.")
    _check_seat(cohort)
    _check_no_overlapping_open_enrollment(student, cohort)
    today = timezone.localdate()
    enrollment = Enrollment(
        student=student,
        cohort=cohort,
        enrolled_on=enrolled_on or today,
        status_changed_on=enrolled_on or today,
        notes=notes,
    )
    _full_clean(enrollment)
    with history_reason(reason or f"enrolled in {cohort}"):
        enrollment.save()
    return enrollment


@transaction.atomic
def enrollment_change_status(
    *,
    enrollment: Enrollment,
    status: str,
    completed_on: date | None = None,
    final_grade: Decimal | None = None,
    reason: str = "",
    user=None,
) -> Enrollment:
    """Move an enrollment along DOMAIN.md §3 (enrolled → in progress → completed; enrolled or in progress →
    dropped, withdrawn or deferred). ``user`` in the admin role may make any other change with a reason (an
    override); a change that takes a place again checks capacity and overlapping enrollments. Completing sets
    ``completed_on`` (default today) and optionally the final grade; leaving completed clears the date."""
    enrollment = Enrollment.objects.select_for_update(of=("self",)).select_related("student").get(pk=enrollment.pk)
    reason = (reason or "").strip()
    override = _check_transition(
        kind="enrollment",
        labels=EnrollmentStatus,
        current=enrollment.status,
        status=status,
        allowed=ENROLLMENT_TRANSITIONS,
        user=user,
        reason=reason,
    )
    if override:  # only an override can take a place again
        cohort = Cohort.all_objects.select_for_update().get(pk=enrollment.cohort_id)
        if status in SEAT_TAKING and enrollment.status not in SEAT_TAKING:
            _check_seat(cohort, exclude_pk=enrollment.pk)
        if status in OPEN_ENROLLMENT and enrollment.status not in OPEN_ENROLLMENT:
            _check_no_overlapping_open_enrollment(enrollment.student, cohort, exclude_pk=enrollment.pk)
    fields = ["status", "completed_on"]
    if status == EnrollmentStatus.COMPLETED:
        enrollment.completed_on = completed_on or timezone.localdate()
        if enrollment.completed_on < enrollment.enrolled_on:
            raise ValidationError(
                f"The completion date {enrollment.completed_on.isoformat()} cannot be before the enrollment date "
                f"{enrollment.enrolled_on.isoformat()}."
            )
        if final_grade is not None:
            enrollment.final_grade = final_grade
            fields.append("final_grade")
    else:
        enrollment.completed_on = None
    enrollment.status = status
    _full_clean(enrollment)
    with history_reason(reason or f"enrollment {EnrollmentStatus(status).label.lower()}"):
        enrollment.save(update_fields=fields)
    return enrollment


@transaction.atomic
def credential_renew(
    *,
    credential: Credential,
    issue_date: date,
    expiration_date: date | None = None,
    certificate_number: str = "",
    reason: str = "",
) -> Credential:
    """Renew an active or expired credential: a new active credential (same student, name and issuer) replaces
    it, and the old one becomes renewed, both or neither."""
    old = Credential.objects.select_for_update(of=("self",)).select_related("student").get(pk=credential.pk)
    if old.status not in RENEWABLE_CREDENTIAL:
        raise ValidationError(f"A {old.get_status_display().lower()} credential cannot be renewed.")
    if issue_date < old.issue_date:
        raise ValidationError(
            f"The renewal cannot be issued before the credential it renews (issued {old.issue_date.isoformat()})."
        )
    new = Credential(
        student=old.student,
        name=old.name,
        issuing_org=old.issuing_org,
        certificate_number=certificate_number,
        issue_date=issue_date,
        expiration_date=expiration_date,
        status=CredentialStatus.ACTIVE,
        replaces=old,
    )
    if new.is_expired:
        new.status = CredentialStatus.EXPIRED
    _full_clean(new)
    with history_reason(reason or f"renewed credential #{old.pk}"):
        old.status = CredentialStatus.RENEWED
        old.save(update_fields=["status"])
        new.save()
    return new


@transaction.atomic
def jatc_application_advance(
    *,
    application: JATCApplication,
    status: str,
    decision_date: date | None = None,
    interview_date: date | None = None,
    reason: str = "",
    user=None,
) -> JATCApplication:
    """Move a JATC application along DOMAIN.md §3 (draft → submitted → under review → interview scheduled →
    interviewed → accepted, rejected or waitlisted; waitlisted → accepted or rejected; any non-final state →
    withdrawn). Scheduling an interview needs its date; a decision needs the decision date. ``user`` in the admin
    role may make any other change with a reason."""
    application = JATCApplication.objects.select_for_update(of=("self",)).get(pk=application.pk)
    reason = (reason or "").strip()
    _check_transition(
        kind="application",
        labels=ApplicationStatus,
        current=application.status,
        status=status,
        allowed=APPLICATION_TRANSITIONS,
        user=user,
        reason=reason,
    )
    fields = ["status"]
    if interview_date is not None:
        application.interview_date = interview_date
        fields.append("interview_date")
    if status == ApplicationStatus.INTERVIEW_SCHEDULED and application.interview_date is None:
        raise ValidationError("Scheduling an interview needs the interview date.")
    if decision_date is not None:
        application.decision_date = decision_date
        fields.append("decision_date")
    if status in DECIDED_APPLICATION and decision_date is None:
        raise ValidationError(
            f"Marking the application {ApplicationStatus(status).label.lower()} needs the decision date."
        )
    application.status = status
    _full_clean(application)
    with history_reason(reason or f"application {ApplicationStatus(status).label.lower()}"):
        application.save(update_fields=fields)
    return application
