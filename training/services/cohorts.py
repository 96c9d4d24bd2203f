"""Cohort workflows (DOMAIN.md §3, §4.3): status changes and cancellation, instructor assignments, attendance
sheets, and the soft-delete guards of cohorts, locations and instructors. Used by the portal and the admin."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from attachments.services import is_admin
from audit.history import history_reason
from training.models import (
    OPEN_ENROLLMENT,
    Attendance,
    AttendanceStatus,
    ClassSession,
    Cohort,
    CohortInstructor,
    CohortStatus,
    Enrollment,
    EnrollmentStatus,
    Instructor,
    Location,
    Student,
)

# The forward path of a cohort; cancelling has its own service (it defers the open enrollments).
NEXT_COHORT_STATUS = {
    CohortStatus.PLANNED: CohortStatus.ENROLLING,
    CohortStatus.ENROLLING: CohortStatus.ACTIVE,
    CohortStatus.ACTIVE: CohortStatus.COMPLETED,
}
# Cohorts that still depend on their location, primary instructor and open enrollments.
RUNNING_COHORT = (CohortStatus.PLANNED, CohortStatus.ENROLLING, CohortStatus.ACTIVE)
# The enrollments an attendance sheet lists.
SHEET_ENROLLMENT = (EnrollmentStatus.ENROLLED, EnrollmentStatus.IN_PROGRESS, EnrollmentStatus.COMPLETED)


def _with_article(label: str) -> str:
    """ "a planned", "an active": the label in lower case with its article."""
    return f"{'an' if label[0].lower() in 'aeiou' else 'a'} {label.lower()}"


def _require_reason(reason: str, action: str) -> str:
    if not reason or not reason.strip():
        raise ValidationError(f"A reason is required to {action}.")
    return reason.strip()


def _lock_live_cohort(cohort: Cohort) -> Cohort:
    locked = Cohort.objects.select_for_update().filter(pk=cohort.pk).first()
    if locked is None:
        raise ValidationError("This cohort is deleted; restore it first.")
    return locked


@transaction.atomic
def cohort_change_status(*, cohort: Cohort, status: str, reason: str = "", user=None) -> Cohort:
    """Advance a live cohort one step: planned → enrolling → active → completed (cancelling is cohort_cancel).
    ``user`` in the admin role may set any other status with a reason (DOMAIN.md §3: an override)."""
    cohort = _lock_live_cohort(cohort)
    if status not in CohortStatus.values:
        raise ValidationError(f"Unknown cohort status {status!r}.")
    if status == CohortStatus.CANCELLED:
        raise ValidationError("Use “Cancel cohort” to cancel a cohort: it also defers the open enrollments.")
    current = CohortStatus(cohort.status)
    if status == current:
        raise ValidationError(f"The cohort is already {current.label}.")
    following = NEXT_COHORT_STATUS.get(current)
    if status != following:
        if following is None:
            refusal = f"{_with_article(current.label).capitalize()} cohort cannot change status."
        else:
            refusal = (
                f"{_with_article(current.label).capitalize()} cohort can only move to {following.label}, "
                f"not {CohortStatus(status).label}."
            )
        if user is None or not is_admin(user):
            raise ValidationError(refusal)
        if not reason.strip():
            raise ValidationError(f"{refusal} An administrator may override this only with a reason.")
    cohort.status = status
    with history_reason(reason.strip() or f"cohort status changed to {CohortStatus(status).label}"):
        cohort.save(update_fields=["status"])
    return cohort


@transaction.atomic
def cohort_cancel(*, cohort: Cohort, reason: str) -> tuple[Cohort, int]:
    """Cancel a live cohort that is not completed, and defer its enrolled and in-progress enrollments in the same
    transaction; returns the cohort and how many enrollments were deferred."""
    reason = _require_reason(reason, "cancel a cohort")
    cohort = _lock_live_cohort(cohort)
    if cohort.status == CohortStatus.COMPLETED:
        raise ValidationError("A completed cohort cannot be cancelled.")
    if cohort.status == CohortStatus.CANCELLED:
        raise ValidationError("This cohort is already cancelled.")
    now = timezone.now()
    with history_reason(reason):
        cohort.status = CohortStatus.CANCELLED
        cohort.save(update_fields=["status"])
        deferred = Enrollment.objects.filter(cohort=cohort, status__in=OPEN_ENROLLMENT).update(
            status=EnrollmentStatus.DEFERRED, status_changed_on=timezone.localdate(), updated_at=now
        )
    return cohort, deferred


@transaction.atomic
def cohortinstructor_make_primary(*, assignment: CohortInstructor, reason: str = "") -> CohortInstructor:
    """Make an assignment its cohort's primary one, demoting the previous primary in the same transaction."""
    # Locking the cohort first serialises two "make primary" on one cohort: the second sees the first's primary.
    _lock_live_cohort(assignment.cohort)
    assignment = CohortInstructor.objects.select_for_update().select_related("instructor").get(pk=assignment.pk)
    if assignment.is_primary:
        return assignment
    # Lock the instructor too: instructor_soft_delete checks primary assignments under this lock.
    instructor = Instructor.all_objects.select_for_update().get(pk=assignment.instructor_id)
    if instructor.deleted_at is not None or not instructor.is_active:
        raise ValidationError(
            f"{instructor} is {'deleted' if instructor.deleted_at else 'inactive'}; choose another primary instructor."
        )
    with history_reason(reason or f"made {assignment.instructor} the primary instructor"):
        CohortInstructor.objects.filter(cohort_id=assignment.cohort_id, is_primary=True).update(
            is_primary=False, updated_at=timezone.now()
        )
        assignment.is_primary = True
        assignment.save(update_fields=["is_primary"])
    return assignment


@transaction.atomic
def cohortinstructor_delete(*, assignment: CohortInstructor, reason: str) -> None:
    """Remove an instructor from a cohort; refused while they teach one of the cohort's sessions."""
    reason = _require_reason(reason, "remove an instructor from a cohort")
    assignment = CohortInstructor.objects.select_for_update().select_related("instructor").get(pk=assignment.pk)
    taught = ClassSession.objects.filter(cohort_id=assignment.cohort_id, instructor_id=assignment.instructor_id)
    if taught.exists():
        raise ValidationError(
            f"{assignment.instructor} teaches {taught.count()} session(s) of this cohort; "
            "give those sessions another instructor first."
        )
    assignment.delete(reason=reason)


@transaction.atomic
def attendance_record_sheet(*, session: ClassSession, marks: list[dict], reason: str = "") -> dict[str, int]:
    """Save a session's attendance sheet in one transaction: one mark per student (created or updated).

    Each mark is ``{"student": Student or id, "status": AttendanceStatus, "minutes_late": int | None,
    "notes": str}``. Refused for a cancelled session or a deleted cohort, for a student without an enrollment
    in the session's cohort, for a student listed twice and for minutes late on a mark that is not late.
    Returns how many marks were created, updated and left unchanged.
    """
    session = ClassSession.objects.select_for_update(of=("self",)).select_related("cohort").get(pk=session.pk)
    if session.is_cancelled:
        raise ValidationError("This session is cancelled; cancelled sessions take no attendance.")
    if session.cohort.deleted_at is not None:
        raise ValidationError("This session's cohort is deleted; restore it first.")
    enrolled = {
        student_id: f"{first} {last}"
        for student_id, first, last in Enrollment.objects.filter(
            cohort_id=session.cohort_id, student__deleted_at__isnull=True
        ).values_list("student_id", "student__first_name", "student__last_name")
    }
    wanted: dict[int, dict] = {}
    for mark in marks:
        student = mark["student"]
        student_id = student.pk if isinstance(student, Student) else int(student)
        if student_id not in enrolled:
            raise ValidationError(f"Student #{student_id} holds no enrollment in {session.cohort}.")
        if student_id in wanted:
            raise ValidationError(f"{enrolled[student_id]} is listed twice on the sheet.")
        status = mark.get("status") or AttendanceStatus.PRESENT
        if status not in AttendanceStatus.values:
            raise ValidationError(f"Unknown attendance status {status!r}.")
        minutes_late = mark.get("minutes_late")
        if minutes_late is not None and status != AttendanceStatus.LATE:
            raise ValidationError(f"{enrolled[student_id]}: minutes late can only be recorded for a late mark.")
        wanted[student_id] = {
            "status": status,
            "minutes_late": minutes_late,
            "notes": (mark.get("notes") or "").strip(),
        }

    existing = {mark.student_id: mark for mark in Attendance.objects.filter(session=session)}
    now = timezone.now()
    to_create, to_update = [], []
    for student_id, values in wanted.items():
        mark = existing.get(student_id)
        if mark is None:
            to_create.append(Attendance(session=session, student_id=student_id, updated_at=now, **values))
        elif any(getattr(mark, field) != value for field, value in values.items()):
            for field, value in values.items():
                setattr(mark, field, value)
            mark.updated_at = now
            to_update.append(mark)
    with history_reason(reason.strip() or f"attendance taken for {session}"):
        if to_update:
            Attendance.objects.bulk_update(to_update, ["status", "minutes_late", "notes", "updated_at"])
        if to_create:
            Attendance.objects.bulk_create(to_create)
    return {
        "created": len(to_create),
        "updated": len(to_update),
        "unchanged": len(wanted) - len(to_create) - len(to_update),
    }


@transaction.atomic
def cohort_soft_delete(*, cohort: Cohort, reason: str) -> Cohort:
    """Soft-delete a cohort; refused while it is planned, enrolling or active with open enrollments."""
    reason = _require_reason(reason, "delete a cohort")
    # FOR UPDATE conflicts with the key-share lock a new enrollment takes on the cohort row.
    cohort = Cohort.all_objects.select_for_update().get(pk=cohort.pk)
    if cohort.deleted_at is not None:
        raise ValidationError(f"“{cohort}” is already deleted.")
    if cohort.status in RUNNING_COHORT:
        open_count = Enrollment.objects.filter(cohort=cohort, status__in=OPEN_ENROLLMENT).count()
        if open_count:
            raise ValidationError(
                f"This {cohort.get_status_display().lower()} cohort has {open_count} open enrollment(s); "
                "cancel the cohort or close the enrollments before deleting it."
            )
    cohort.soft_delete(reason=reason)
    return cohort


@transaction.atomic
def location_soft_delete(*, location: Location, reason: str) -> Location:
    """Soft-delete a location; refused while a planned, enrolling or active cohort meets there."""
    reason = _require_reason(reason, "delete a location")
    location = Location.all_objects.select_for_update().get(pk=location.pk)
    if location.deleted_at is not None:
        raise ValidationError(f"“{location}” is already deleted.")
    running = list(Cohort.objects.filter(location=location, status__in=RUNNING_COHORT).order_by("start_date", "pk"))
    if running:
        names = ", ".join(str(cohort) for cohort in running[:5]) + (" …" if len(running) > 5 else "")
        raise ValidationError(
            f"{len(running)} planned, enrolling or active cohort(s) meet here ({names}); "
            "move them to another location first."
        )
    location.soft_delete(reason=reason)
    return location


@transaction.atomic
def instructor_soft_delete(*, instructor: Instructor, reason: str) -> Instructor:
    """Soft-delete an instructor; refused while they are the primary instructor of a planned, enrolling or
    active cohort."""
    reason = _require_reason(reason, "delete an instructor")
    instructor = Instructor.all_objects.select_for_update().get(pk=instructor.pk)
    if instructor.deleted_at is not None:
        raise ValidationError(f"“{instructor}” is already deleted.")
    primary = list(
        Cohort.objects.filter(
            assignments__instructor=instructor, assignments__is_primary=True, status__in=RUNNING_COHORT
        ).order_by("start_date", "pk")
    )
    if primary:
        names = ", ".join(str(cohort) for cohort in primary[:5]) + (" …" if len(primary) > 5 else "")
        raise ValidationError(
            f"{instructor} is the primary instructor of {len(primary)} planned, enrolling or active cohort(s) "
            f"({names}); make someone else primary first."
        )
    instructor.soft_delete(reason=reason)
    return instructor
