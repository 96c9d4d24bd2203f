"""Integrity checks of the training program (DOMAIN.md §8: STU, INS, COH, ENR, SES, ATD, CRD and APP)."""

import datetime
from functools import partial

from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, OuterRef, Q, Subquery
from django.db.models.functions import Lower
from django.utils import timezone

from ip2a.integrity import CheckContext, Issue, register
from training.models import (
    DECIDED_APPLICATION,
    OPEN_ENROLLMENT,
    SEAT_TAKING,
    Attendance,
    AttendanceStatus,
    ClassSession,
    Cohort,
    CohortInstructor,
    CohortStatus,
    Credential,
    CredentialStatus,
    Enrollment,
    EnrollmentStatus,
    Instructor,
    JATCApplication,
    Student,
)

NOT_BLANK = r"\S"  # the pattern of the *_not_blank constraints, so the check and the database agree
STALE_START_DAYS = 30  # COH-005: a planned or enrolling cohort may lag its start date by this much


def _iso(value: datetime.date | None) -> str | None:
    return value.isoformat() if value else None


# --- Repairs: each reads only the finding's ids and details, and is a no-op when re-run ------------------


def _demote_primary_instructors(assignment_ids: list[int]) -> None:
    CohortInstructor.objects.filter(pk__in=assignment_ids, is_primary=True).update(
        is_primary=False, updated_at=timezone.now()
    )


def _defer_enrollments(enrollment_ids: list[int], today: datetime.date) -> None:
    # Rows that also carry a completion date are left alone: deferring them would break completed_on_iff_completed.
    Enrollment.objects.filter(pk__in=enrollment_ids, status__in=OPEN_ENROLLMENT, completed_on__isnull=True).update(
        status=EnrollmentStatus.DEFERRED, status_changed_on=today, updated_at=timezone.now()
    )


def _set_completed_on(enrollment_id: int, completed_on: str) -> None:
    Enrollment.objects.filter(pk=enrollment_id, status=EnrollmentStatus.COMPLETED, completed_on__isnull=True).update(
        completed_on=datetime.date.fromisoformat(completed_on), updated_at=timezone.now()
    )


def _clear_minutes_late(attendance_ids: list[int]) -> None:
    Attendance.objects.filter(pk__in=attendance_ids, minutes_late__isnull=False).exclude(
        status=AttendanceStatus.LATE
    ).update(minutes_late=None, updated_at=timezone.now())


def _expire_credentials(credential_ids: list[int]) -> None:
    Credential.objects.filter(pk__in=credential_ids, status=CredentialStatus.ACTIVE).update(
        status=CredentialStatus.EXPIRED, updated_at=timezone.now()
    )


# --- Students and instructors ----------------------------------------------------------------------------


@register("STU-001", severity="critical", model="training.Student")
def students_have_names_and_email(context: CheckContext):
    """Every student, deleted ones included, has a first name, a last name and an email."""
    fields = ("first_name", "last_name", "email")
    blank = {field: ~Q(**{f"{field}__regex": NOT_BLANK}) for field in fields}
    rows = (
        Student.all_objects.filter(blank["first_name"] | blank["last_name"] | blank["email"])
        .annotate(**{f"{field}_blank": ExpressionWrapper(q, BooleanField()) for field, q in blank.items()})
        .values("id", *(f"{field}_blank" for field in fields))
        .order_by("id")
    )
    for row in rows:
        missing = [field for field in fields if row[f"{field}_blank"]]
        yield Issue(
            message=f"Student #{row['id']} has a blank {', '.join(missing).replace('_', ' ')}.",
            object_ids=[row["id"]],
            details={"student_id": row["id"], "blank_fields": missing},
        )


def _duplicate_emails(model, label: str):
    duplicates = (
        model.all_objects.annotate(email_key=Lower("email"))
        .values("email_key")
        .annotate(ids=ArrayAgg("id", order_by="id"), count=Count("id"))
        .filter(count__gt=1)
        .values_list("email_key", "ids")
        .order_by("email_key")
    )
    for email, ids in duplicates:
        yield Issue(
            message=f"{len(ids)} {label}s share the email {email} (case-insensitive).",
            object_ids=ids,
            details={"email": email, f"{label}_ids": ids},
        )


@register("STU-002", severity="critical", model="training.Student")
def student_emails_unique(context: CheckContext):
    """No two students, deleted ones included, share an email (case-insensitive)."""
    yield from _duplicate_emails(Student, "student")


@register("INS-001", severity="critical", model="training.Instructor")
def instructor_emails_unique(context: CheckContext):
    """No two instructors, deleted ones included, share an email (case-insensitive)."""
    yield from _duplicate_emails(Instructor, "instructor")


# --- Cohorts ---------------------------------------------------------------------------------------------


@register("COH-001", severity="critical", model="training.Cohort")
def cohorts_end_after_start(context: CheckContext):
    """No cohort, deleted ones included, ends before it starts."""
    rows = Cohort.all_objects.filter(end_date__lt=F("start_date")).values_list("id", "name", "start_date", "end_date")
    for pk, name, start, end in rows.order_by("id"):
        yield Issue(
            message=f"Cohort #{pk} ({name}) ends on {end} before it starts on {start}.",
            object_ids=[pk],
            details={"cohort_id": pk, "start_date": _iso(start), "end_date": _iso(end)},
        )


@register("COH-002", severity="critical", model="training.CohortInstructor")
def cohort_primary_instructor_unique(context: CheckContext):
    """No cohort, deleted ones included, has more than one primary instructor."""
    groups = (
        CohortInstructor.objects.filter(is_primary=True)
        .values("cohort_id")
        .annotate(ids=ArrayAgg("id", order_by=("created_at", "id")), count=Count("id"))
        .filter(count__gt=1)
        .values_list("cohort_id", "ids")
        .order_by("cohort_id")
    )
    for cohort_id, ids in groups:
        keep, demote = ids[0], ids[1:]
        yield Issue(
            message=f"Cohort #{cohort_id} has {len(ids)} primary instructors.",
            object_ids=ids,
            details={"cohort_id": cohort_id, "assignment_ids": ids, "keep_id": keep, "demote_ids": demote},
            repair=f"keep assignment #{keep} (the earliest created) as primary; demote {', '.join(map(str, demote))}",
            fix=partial(_demote_primary_instructors, demote),
        )


@register("COH-003", severity="warning", model="training.Cohort")
def open_cohorts_have_primary_instructor(context: CheckContext):
    """Every live enrolling or active cohort has a primary instructor who is not deleted."""
    primary = CohortInstructor.objects.filter(
        cohort_id=OuterRef("pk"), is_primary=True, instructor__deleted_at__isnull=True
    )
    rows = (
        Cohort.objects.filter(status__in=[CohortStatus.ENROLLING, CohortStatus.ACTIVE])
        .exclude(Exists(primary))
        .values_list("id", "name", "status")
        .order_by("id")
    )
    for pk, name, status in rows:
        yield Issue(
            message=f"Cohort #{pk} ({name}) is {status} but has no primary instructor.",
            object_ids=[pk],
            details={"cohort_id": pk, "status": status},
        )


@register("COH-004", severity="warning", model="training.Cohort")
def cohorts_within_capacity(context: CheckContext):
    """No live cohort holds more enrolled, in-progress and completed students than its max_students."""
    rows = (
        Enrollment.objects.filter(
            status__in=SEAT_TAKING,
            student__deleted_at__isnull=True,
            cohort__deleted_at__isnull=True,
            cohort__max_students__isnull=False,
        )
        .values("cohort_id", "cohort__name", "cohort__max_students")
        .annotate(seats=Count("id"))
        .filter(seats__gt=F("cohort__max_students"))
        .values_list("cohort_id", "cohort__name", "cohort__max_students", "seats")
        .order_by("cohort_id")
    )
    for pk, name, capacity, seats in rows:
        yield Issue(
            message=f"Cohort #{pk} ({name}) holds {seats} students, over its capacity of {capacity}.",
            object_ids=[pk],
            details={"cohort_id": pk, "max_students": capacity, "seats_taken": seats},
        )


@register("COH-005", severity="info", model="training.Cohort")
def cohort_status_matches_dates(context: CheckContext):
    """No live cohort is completed while it ends after today, or planned or enrolling a month after it started."""
    stale_start = context.today - datetime.timedelta(days=STALE_START_DAYS)
    ends_later = Q(status=CohortStatus.COMPLETED, end_date__gt=context.today)
    not_started = Q(status__in=[CohortStatus.PLANNED, CohortStatus.ENROLLING], start_date__lt=stale_start)
    rows = (
        Cohort.objects.filter(ends_later | not_started)
        .values_list("id", "name", "status", "start_date", "end_date")
        .order_by("id")
    )
    for pk, name, status, start, end in rows:
        if status == CohortStatus.COMPLETED:
            problem, sentence = "ends_after_today", f"is completed but ends on {end}, after today"
        else:
            problem, sentence = "started_over_30_days_ago", f"is still {status} but started on {start}"
        yield Issue(
            message=f"Cohort #{pk} ({name}) {sentence}.",
            object_ids=[pk],
            details={
                "cohort_id": pk,
                "status": status,
                "start_date": _iso(start),
                "end_date": _iso(end),
                "problem": problem,
            },
        )


# --- Enrollments -----------------------------------------------------------------------------------------


@register("ENR-001", severity="critical", model="training.Enrollment")
def enrollments_unique_per_cohort(context: CheckContext):
    """No student is enrolled twice in the same cohort."""
    groups = (
        Enrollment.objects.values("student_id", "cohort_id")
        .annotate(ids=ArrayAgg("id", order_by="id"), count=Count("id"))
        .filter(count__gt=1)
        .values_list("student_id", "cohort_id", "ids")
        .order_by("student_id", "cohort_id")
    )
    for student_id, cohort_id, ids in groups:
        yield Issue(
            message=f"Student #{student_id} has {len(ids)} enrollments in cohort #{cohort_id}.",
            object_ids=ids,
            details={"student_id": student_id, "cohort_id": cohort_id, "enrollment_ids": ids},
        )


@register("ENR-002", severity="warning", model="training.Enrollment")
def open_enrollments_not_in_cancelled_cohorts(context: CheckContext):
    """No live cancelled cohort holds enrolled or in-progress enrollments of live students."""
    groups = (
        Enrollment.objects.filter(
            status__in=OPEN_ENROLLMENT,
            cohort__status=CohortStatus.CANCELLED,
            cohort__deleted_at__isnull=True,
            student__deleted_at__isnull=True,
        )
        .values("cohort_id", "cohort__name")
        .annotate(ids=ArrayAgg("id", order_by="id"))
        .values_list("cohort_id", "cohort__name", "ids")
        .order_by("cohort_id")
    )
    for cohort_id, name, ids in groups:
        yield Issue(
            message=f"Cohort #{cohort_id} ({name}) is cancelled but holds {len(ids)} open enrollment(s).",
            object_ids=ids,
            details={"cohort_id": cohort_id, "enrollment_ids": ids},
            repair=f"set status deferred (status changed on {context.today})",
            fix=partial(_defer_enrollments, ids, context.today),
        )


@register("ENR-003", severity="critical", model="training.Enrollment")
def enrollment_completed_on_matches_status(context: CheckContext):
    """completed_on is set exactly on completed enrollments and is never before enrolled_on."""
    missing = Q(status=EnrollmentStatus.COMPLETED, completed_on__isnull=True)
    stray = Q(completed_on__isnull=False) & ~Q(status=EnrollmentStatus.COMPLETED)
    early = Q(completed_on__lt=F("enrolled_on"))
    # A subquery, not a join: an enrollment whose cohort row is gone must still be reported.
    cohort_end = Subquery(Cohort.all_objects.filter(pk=OuterRef("cohort_id")).values("end_date"))
    rows = (
        Enrollment.objects.filter(missing | stray | early)
        .annotate(cohort_end=cohort_end)
        .values_list("id", "status", "enrolled_on", "completed_on", "cohort_end")
        .order_by("id")
    )
    for pk, status, enrolled_on, completed_on, cohort_end in rows:
        details = {"enrollment_id": pk, "status": status, "enrolled_on": _iso(enrolled_on)}
        details["completed_on"] = _iso(completed_on)
        if completed_on is None:
            # The cohort end date, unless it lies before enrolled_on (that would break completed_after_enrolled).
            completed = cohort_end if cohort_end and cohort_end >= enrolled_on else enrolled_on
            details.update(problems=["completed_without_completed_on"], set_completed_on=completed.isoformat())
            yield Issue(
                message=f"Enrollment #{pk} is completed but has no completion date.",
                object_ids=[pk],
                details=details,
                repair=f"set completed_on to {completed}",
                fix=partial(_set_completed_on, pk, details["set_completed_on"]),
            )
            continue
        problems, sentences = [], []
        if status != EnrollmentStatus.COMPLETED:
            problems.append("completed_on_without_completed")
            sentences.append(f"has a completion date but is {status}")
        if completed_on < enrolled_on:
            problems.append("completed_before_enrolled")
            sentences.append(f"was completed on {completed_on}, before its enrollment on {enrolled_on}")
        details["problems"] = problems
        yield Issue(message=f"Enrollment #{pk} {' and '.join(sentences)}.", object_ids=[pk], details=details)


@register("ENR-004", severity="warning", model="training.Enrollment")
def open_enrollments_do_not_overlap(context: CheckContext):
    """No live student holds open enrollments in two live cohorts whose dates overlap."""
    enrollment, cohort, student = (m._meta.db_table for m in (Enrollment, Cohort, Student))
    # NULL end dates run on forever. Two enrollments in the same cohort are ENR-001's finding.
    sql = f"""
        SELECT e1.student_id, e1.id, e1.cohort_id, e2.id, e2.cohort_id
        FROM {enrollment} e1
        JOIN {enrollment} e2 ON e2.student_id = e1.student_id AND e2.id > e1.id AND e2.cohort_id <> e1.cohort_id
        JOIN {cohort} c1 ON c1.id = e1.cohort_id
        JOIN {cohort} c2 ON c2.id = e2.cohort_id
        JOIN {student} s ON s.id = e1.student_id
        WHERE s.deleted_at IS NULL AND c1.deleted_at IS NULL AND c2.deleted_at IS NULL
          AND e1.status = ANY(%(open)s) AND e2.status = ANY(%(open)s)
          AND c1.start_date <= COALESCE(c2.end_date, 'infinity'::date)
          AND c2.start_date <= COALESCE(c1.end_date, 'infinity'::date)
        ORDER BY e1.student_id, e1.id, e2.id
    """
    by_student: dict[int, dict] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, {"open": [str(status) for status in OPEN_ENROLLMENT]})
        for student_id, first_id, first_cohort, second_id, second_cohort in cursor.fetchall():
            found = by_student.setdefault(student_id, {"enrollments": set(), "cohorts": set()})
            found["enrollments"].update((first_id, second_id))
            found["cohorts"].update((first_cohort, second_cohort))
    for student_id, found in by_student.items():
        ids, cohorts = sorted(found["enrollments"]), sorted(found["cohorts"])
        yield Issue(
            message=f"Student #{student_id} holds open enrollments in overlapping cohorts "
            f"{', '.join(f'#{pk}' for pk in cohorts)}.",
            object_ids=ids,
            details={"student_id": student_id, "enrollment_ids": ids, "cohort_ids": cohorts},
        )


# --- Sessions and attendance -----------------------------------------------------------------------------


@register("SES-001", severity="warning", model="training.ClassSession")
def sessions_within_cohort_dates(context: CheckContext):
    """Every session of a live cohort is dated within the cohort's start and end dates."""
    outside = Q(date__lt=F("cohort__start_date")) | Q(cohort__end_date__isnull=False, date__gt=F("cohort__end_date"))
    rows = (
        ClassSession.objects.filter(cohort__deleted_at__isnull=True)
        .filter(outside)
        .values_list("id", "date", "cohort_id", "cohort__start_date", "cohort__end_date")
        .order_by("id")
    )
    for pk, day, cohort_id, start, end in rows:
        yield Issue(
            message=f"Session #{pk} on {day} lies outside the dates of cohort #{cohort_id} ({start} to {end or '…'}).",
            object_ids=[pk],
            details={
                "session_id": pk,
                "cohort_id": cohort_id,
                "date": _iso(day),
                "cohort_start_date": _iso(start),
                "cohort_end_date": _iso(end),
            },
        )


@register("SES-002", severity="critical", model="training.ClassSession")
def sessions_end_after_start(context: CheckContext):
    """Every session with both times set ends after it starts."""
    rows = ClassSession.objects.filter(end_time__lte=F("start_time")).values_list("id", "start_time", "end_time")
    for pk, start, end in rows.order_by("id"):
        yield Issue(
            message=f"Session #{pk} ends at {end:%H:%M}, not after its start at {start:%H:%M}.",
            object_ids=[pk],
            details={"session_id": pk, "start_time": start.isoformat(), "end_time": end.isoformat()},
        )


@register("ATD-001", severity="critical", model="training.Attendance")
def attendance_unique_per_session(context: CheckContext):
    """No student has two marks for the same session."""
    groups = (
        Attendance.objects.values("student_id", "session_id")
        .annotate(ids=ArrayAgg("id", order_by="id"), count=Count("id"))
        .filter(count__gt=1)
        .values_list("student_id", "session_id", "ids")
        .order_by("student_id", "session_id")
    )
    for student_id, session_id, ids in groups:
        yield Issue(
            message=f"Student #{student_id} has {len(ids)} marks for session #{session_id}.",
            object_ids=ids,
            details={"student_id": student_id, "session_id": session_id, "attendance_ids": ids},
        )


@register("ATD-002", severity="warning", model="training.Attendance")
def attendance_has_enrollment(context: CheckContext):
    """Every mark of a live student in a live cohort's session belongs to a student enrolled in that cohort."""
    enrolled = Enrollment.objects.filter(student_id=OuterRef("student_id"), cohort_id=OuterRef("session__cohort_id"))
    groups = (
        Attendance.objects.filter(student__deleted_at__isnull=True, session__cohort__deleted_at__isnull=True)
        .exclude(Exists(enrolled))
        .values("student_id", "session__cohort_id")
        .annotate(ids=ArrayAgg("id", order_by="id"))
        .values_list("student_id", "session__cohort_id", "ids")
        .order_by("student_id", "session__cohort_id")
    )
    for student_id, cohort_id, ids in groups:
        yield Issue(
            message=f"Student #{student_id} has {len(ids)} attendance mark(s) in cohort #{cohort_id} "
            "without an enrollment there.",
            object_ids=ids,
            details={"student_id": student_id, "cohort_id": cohort_id, "attendance_ids": ids},
        )


@register("ATD-003", severity="critical", model="training.Attendance")
def minutes_late_only_on_late_marks(context: CheckContext):
    """minutes_late is set only on late marks."""
    rows = (
        Attendance.objects.filter(minutes_late__isnull=False)
        .exclude(status=AttendanceStatus.LATE)
        .values_list("id", "status", "minutes_late")
        .order_by("id")
    )
    for pk, status, minutes in rows:
        yield Issue(
            message=f"Attendance mark #{pk} is {status} but records {minutes} minutes late.",
            object_ids=[pk],
            details={"attendance_id": pk, "status": status, "minutes_late": minutes},
            repair="clear minutes_late",
            fix=partial(_clear_minutes_late, [pk]),
        )


# --- Credentials and JATC applications -------------------------------------------------------------------


@register("CRD-001", severity="warning", model="training.Credential")
def active_credentials_not_expired(context: CheckContext):
    """No active credential of a live student is past its expiration date."""
    rows = (
        Credential.objects.filter(
            status=CredentialStatus.ACTIVE, expiration_date__lt=context.today, student__deleted_at__isnull=True
        )
        .values_list("id", "name", "student_id", "expiration_date")
        .order_by("id")
    )
    for pk, name, student_id, expired in rows:
        yield Issue(
            message=f"Credential #{pk} ({name}) of student #{student_id} expired on {expired} but is still active.",
            object_ids=[pk],
            details={"credential_id": pk, "student_id": student_id, "expiration_date": _iso(expired)},
            repair="set status expired",
            fix=partial(_expire_credentials, [pk]),
        )


@register("CRD-002", severity="critical", model="training.Credential")
def credentials_expire_after_issue(context: CheckContext):
    """No credential expires before it was issued."""
    rows = Credential.objects.filter(expiration_date__lt=F("issue_date")).values_list(
        "id", "name", "issue_date", "expiration_date"
    )
    for pk, name, issued, expires in rows.order_by("id"):
        yield Issue(
            message=f"Credential #{pk} ({name}) expires on {expires}, before its issue date {issued}.",
            object_ids=[pk],
            details={"credential_id": pk, "issue_date": _iso(issued), "expiration_date": _iso(expires)},
        )


@register("APP-001", severity="critical", model="training.JATCApplication")
def application_dates_after_application(context: CheckContext):
    """No JATC application has an interview or decision date before its application date."""
    early_interview = Q(interview_date__lt=F("application_date"))
    early_decision = Q(decision_date__lt=F("application_date"))
    rows = (
        JATCApplication.objects.filter(early_interview | early_decision)
        .values_list("id", "application_date", "interview_date", "decision_date")
        .order_by("id")
    )
    for pk, applied, interview, decision in rows:
        early = [
            field
            for field, value in (("interview_date", interview), ("decision_date", decision))
            if value is not None and value < applied
        ]
        yield Issue(
            message=f"JATC application #{pk} has a {' and a '.join(f.replace('_', ' ') for f in early)} "
            f"before its application date {applied}.",
            object_ids=[pk],
            details={
                "application_id": pk,
                "application_date": _iso(applied),
                "interview_date": _iso(interview),
                "decision_date": _iso(decision),
                "early_fields": early,
            },
        )


@register("APP-002", severity="critical", model="training.JATCApplication")
def decided_applications_have_decision_date(context: CheckContext):
    """Every accepted, rejected or waitlisted JATC application has a decision date."""
    rows = JATCApplication.objects.filter(status__in=DECIDED_APPLICATION, decision_date__isnull=True)
    for pk, status in rows.values_list("id", "status").order_by("id"):
        yield Issue(
            message=f"JATC application #{pk} is {status} but has no decision date.",
            object_ids=[pk],
            details={"application_id": pk, "status": status},
        )
