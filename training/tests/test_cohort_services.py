import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.db.models import QuerySet
from django.utils import timezone

from training.factories import (
    AttendanceFactory,
    ClassSessionFactory,
    CohortFactory,
    CohortInstructorFactory,
    EnrollmentFactory,
    InstructorFactory,
    LocationFactory,
    StudentFactory,
)
from training.models import (
    Attendance,
    AttendanceStatus,
    Cohort,
    CohortInstructor,
    CohortStatus,
    Enrollment,
    EnrollmentStatus,
    Instructor,
    Location,
)
from training.services.cohorts import (
    attendance_record_sheet,
    cohort_cancel,
    cohort_change_status,
    cohort_soft_delete,
    cohortinstructor_delete,
    cohortinstructor_make_primary,
    instructor_soft_delete,
    location_soft_delete,
)

pytestmark = pytest.mark.django_db


def last_reason(obj):
    event = type(obj).pgh_event_model.objects.filter(pgh_obj_id=obj.pk).latest("pgh_id")
    return event.pgh_context.get("reason")


def fail_on(monkeypatch, target, name):
    """Make ``target.name`` raise a database error, as a refused write would."""

    def refuse(*args, **kwargs):
        raise DatabaseError("refused")

    monkeypatch.setattr(target, name, refuse)


# --- Status -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [("planned", "enrolling"), ("enrolling", "active"), ("active", "completed")],
)
def test_cohort_change_status_advances_one_step(before, after):
    cohort = CohortFactory(status=before)

    cohort_change_status(cohort=cohort, status=after, reason="on schedule")

    cohort.refresh_from_db()
    assert cohort.status == after
    assert last_reason(cohort) == "on schedule"


def test_cohort_change_status_records_a_default_reason():
    cohort = CohortFactory(status=CohortStatus.PLANNED)

    cohort_change_status(cohort=cohort, status=CohortStatus.ENROLLING)

    assert last_reason(cohort) == "cohort status changed to Enrolling"


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        ("planned", "active", "A planned cohort can only move to Enrolling, not Active."),
        ("active", "enrolling", "An active cohort can only move to Completed, not Enrolling."),
        ("enrolling", "enrolling", "The cohort is already Enrolling."),
        ("completed", "active", "A completed cohort cannot change status."),
        ("cancelled", "planned", "A cancelled cohort cannot change status."),
        ("active", "cancelled", "Use “Cancel cohort” to cancel a cohort"),
        ("active", "paused", "Unknown cohort status 'paused'."),
    ],
)
def test_cohort_change_status_refuses_other_transitions(before, after, message):
    cohort = CohortFactory(status=before)

    with pytest.raises(ValidationError, match=message):
        cohort_change_status(cohort=cohort, status=after)

    cohort.refresh_from_db()
    assert cohort.status == before


def test_cohort_change_status_refuses_a_deleted_cohort():
    cohort = CohortFactory(status=CohortStatus.PLANNED, deleted_at=timezone.now())

    with pytest.raises(ValidationError, match="This cohort is deleted"):
        cohort_change_status(cohort=cohort, status=CohortStatus.ENROLLING)


# --- Cancel -----------------------------------------------------------------------------------------------


def test_cohort_cancel_defers_enrolled_and_in_progress_enrollments_only():
    cohort = CohortFactory(status=CohortStatus.ACTIVE)
    enrolled = EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.ENROLLED)
    in_progress = EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.IN_PROGRESS)
    completed = EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.COMPLETED, completed_on="2026-11-20")
    dropped = EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.DROPPED)
    elsewhere = EnrollmentFactory(status=EnrollmentStatus.ENROLLED)

    cancelled, deferred = cohort_cancel(cohort=cohort, reason="instructor left")

    statuses = dict(Enrollment.objects.values_list("pk", "status"))
    assert (cancelled.status, deferred) == (CohortStatus.CANCELLED, 2)
    assert statuses == {
        enrolled.pk: EnrollmentStatus.DEFERRED,
        in_progress.pk: EnrollmentStatus.DEFERRED,
        completed.pk: EnrollmentStatus.COMPLETED,
        dropped.pk: EnrollmentStatus.DROPPED,
        elsewhere.pk: EnrollmentStatus.ENROLLED,
    }
    enrolled.refresh_from_db()
    assert enrolled.status_changed_on == timezone.localdate()
    assert last_reason(cohort) == "instructor left"
    assert last_reason(enrolled) == "instructor left"


@pytest.mark.parametrize(
    ("status", "message"),
    [("completed", "A completed cohort cannot be cancelled."), ("cancelled", "already cancelled")],
)
def test_cohort_cancel_refuses_completed_and_cancelled_cohorts(status, message):
    cohort = CohortFactory(status=status)

    with pytest.raises(ValidationError, match=message):
        cohort_cancel(cohort=cohort, reason="test")


def test_cohort_cancel_requires_a_reason():
    cohort = CohortFactory(status=CohortStatus.PLANNED)

    with pytest.raises(ValidationError, match="A reason is required to cancel a cohort."):
        cohort_cancel(cohort=cohort, reason="  ")

    cohort.refresh_from_db()
    assert cohort.status == CohortStatus.PLANNED


def test_cohort_cancel_commits_nothing_when_deferring_fails(monkeypatch):
    cohort = CohortFactory(status=CohortStatus.ACTIVE)
    enrollment = EnrollmentFactory(cohort=cohort)
    fail_on(monkeypatch, QuerySet, "update")

    with pytest.raises(DatabaseError):
        cohort_cancel(cohort=cohort, reason="test")

    monkeypatch.undo()
    cohort.refresh_from_db()
    enrollment.refresh_from_db()
    assert (cohort.status, enrollment.status) == (CohortStatus.ACTIVE, EnrollmentStatus.ENROLLED)


# --- Assignments ------------------------------------------------------------------------------------------


def test_make_primary_demotes_the_previous_primary():
    old = CohortInstructorFactory(is_primary=True)
    new = CohortInstructorFactory(cohort=old.cohort, is_primary=False)

    cohortinstructor_make_primary(assignment=new)

    assert dict(CohortInstructor.objects.values_list("pk", "is_primary")) == {old.pk: False, new.pk: True}
    assert last_reason(new) == f"made {new.instructor} the primary instructor"


def test_make_primary_of_the_primary_changes_nothing():
    primary = CohortInstructorFactory(is_primary=True)
    events = CohortInstructor.pgh_event_model.objects.count()

    cohortinstructor_make_primary(assignment=primary)

    assert CohortInstructor.pgh_event_model.objects.count() == events


def test_make_primary_commits_nothing_when_the_promotion_fails(monkeypatch):
    old = CohortInstructorFactory(is_primary=True)
    new = CohortInstructorFactory(cohort=old.cohort, is_primary=False)
    fail_on(monkeypatch, CohortInstructor, "save")

    with pytest.raises(DatabaseError):
        cohortinstructor_make_primary(assignment=new)

    monkeypatch.undo()
    assert dict(CohortInstructor.objects.values_list("pk", "is_primary")) == {old.pk: True, new.pk: False}


def test_make_primary_refuses_an_assignment_of_a_deleted_cohort():
    assignment = CohortInstructorFactory(is_primary=False, cohort__deleted_at=timezone.now())

    with pytest.raises(ValidationError, match="This cohort is deleted"):
        cohortinstructor_make_primary(assignment=assignment)


def test_assignment_delete_is_refused_while_the_instructor_teaches_a_session():
    session = ClassSessionFactory()
    assignment = CohortInstructor.objects.get(cohort=session.cohort, instructor=session.instructor)

    with pytest.raises(ValidationError, match="teaches 1 session"):
        cohortinstructor_delete(assignment=assignment, reason="left")

    assert CohortInstructor.objects.filter(pk=assignment.pk).exists()


def test_assignment_delete_removes_the_row_with_its_reason():
    assignment = CohortInstructorFactory()

    cohortinstructor_delete(assignment=assignment, reason="left the program")

    event = CohortInstructor.pgh_event_model.objects.get(pgh_obj_id=assignment.pk, pgh_label="delete")
    assert not CohortInstructor.objects.filter(pk=assignment.pk).exists()
    assert event.pgh_context["reason"] == "left the program"


# --- Attendance sheet -------------------------------------------------------------------------------------


@pytest.fixture
def session():
    return ClassSessionFactory()


def enroll(session, n=1, **fields):
    return [enrollment.student for enrollment in EnrollmentFactory.create_batch(n, cohort=session.cohort, **fields)]


def test_attendance_sheet_creates_and_updates_marks(session):
    kept, changed, new = enroll(session, 3)
    AttendanceFactory(session=session, student=kept, status=AttendanceStatus.PRESENT)
    AttendanceFactory(session=session, student=changed, status=AttendanceStatus.PRESENT)

    counts = attendance_record_sheet(
        session=session,
        marks=[
            {"student": kept, "status": "present", "minutes_late": None, "notes": ""},
            {"student": changed, "status": "late", "minutes_late": 20, "notes": " bus "},
            {"student": new.pk, "status": "excused", "minutes_late": None, "notes": ""},
        ],
        reason="Monday sheet",
    )

    marks = {m.student_id: (m.status, m.minutes_late, m.notes) for m in Attendance.objects.filter(session=session)}
    assert counts == {"created": 1, "updated": 1, "unchanged": 1}
    assert marks == {
        kept.pk: ("present", None, ""),
        changed.pk: ("late", 20, "bus"),
        new.pk: ("excused", None, ""),
    }
    assert last_reason(Attendance.objects.get(student=new)) == "Monday sheet"


def test_attendance_sheet_refuses_a_cancelled_session(session):
    [student] = enroll(session)
    session.is_cancelled = True
    session.save()

    with pytest.raises(ValidationError, match="cancelled sessions take no attendance"):
        attendance_record_sheet(session=session, marks=[{"student": student, "status": "present"}])

    assert not Attendance.objects.exists()


def test_attendance_sheet_refuses_a_student_without_an_enrollment_in_the_cohort(session):
    [enrolled] = enroll(session)
    stranger = StudentFactory()

    with pytest.raises(ValidationError, match=f"Student #{stranger.pk} holds no enrollment"):
        attendance_record_sheet(
            session=session, marks=[{"student": enrolled, "status": "present"}, {"student": stranger}]
        )

    assert not Attendance.objects.exists()


def test_attendance_sheet_accepts_a_dropped_students_mark(session):
    [dropped] = enroll(session, status=EnrollmentStatus.DROPPED)

    attendance_record_sheet(session=session, marks=[{"student": dropped, "status": "absent"}])

    assert Attendance.objects.get().status == AttendanceStatus.ABSENT


@pytest.mark.parametrize(
    ("marks", "message"),
    [
        (lambda s: [{"student": s, "status": "present"}, {"student": s, "status": "absent"}], "listed twice"),
        (lambda s: [{"student": s, "status": "present", "minutes_late": 5}], "only be recorded for a late mark"),
        (lambda s: [{"student": s, "status": "asleep"}], "Unknown attendance status 'asleep'."),
    ],
)
def test_attendance_sheet_refuses_bad_marks(session, marks, message):
    [student] = enroll(session)

    with pytest.raises(ValidationError, match=message):
        attendance_record_sheet(session=session, marks=marks(student))

    assert not Attendance.objects.exists()


def test_attendance_sheet_commits_nothing_when_a_write_fails(session, monkeypatch):
    first, second = enroll(session, 2)
    existing = AttendanceFactory(session=session, student=first, status=AttendanceStatus.PRESENT)
    fail_on(monkeypatch, QuerySet, "bulk_create")

    with pytest.raises(DatabaseError):
        attendance_record_sheet(
            session=session,
            marks=[{"student": first, "status": "absent"}, {"student": second, "status": "present"}],
        )

    monkeypatch.undo()
    existing.refresh_from_db()
    assert existing.status == AttendanceStatus.PRESENT
    assert Attendance.objects.count() == 1


# --- Soft-delete guards -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["planned", "enrolling", "active"])
@pytest.mark.parametrize("enrollment_status", ["enrolled", "in_progress"])
def test_cohort_soft_delete_is_refused_with_open_enrollments(status, enrollment_status):
    cohort = CohortFactory(status=status)
    EnrollmentFactory(cohort=cohort, status=enrollment_status)

    with pytest.raises(ValidationError, match="has 1 open enrollment"):
        cohort_soft_delete(cohort=cohort, reason="duplicate")

    cohort.refresh_from_db()
    assert cohort.deleted_at is None


@pytest.mark.parametrize(
    ("status", "enrollment_status"),
    [("active", "dropped"), ("active", "deferred"), ("cancelled", "enrolled"), ("completed", "in_progress")],
)
def test_cohort_soft_delete_is_allowed_without_a_running_cohort_with_open_enrollments(status, enrollment_status):
    cohort = CohortFactory(status=status)
    EnrollmentFactory(cohort=cohort, status=enrollment_status)

    cohort_soft_delete(cohort=cohort, reason="duplicate")

    cohort = Cohort.all_objects.get(pk=cohort.pk)
    assert cohort.deleted_at is not None
    assert last_reason(cohort) == "duplicate"


def test_soft_delete_guards_require_a_reason():
    with pytest.raises(ValidationError, match="A reason is required to delete a cohort."):
        cohort_soft_delete(cohort=CohortFactory(), reason="")
    with pytest.raises(ValidationError, match="A reason is required to delete a location."):
        location_soft_delete(location=LocationFactory(), reason="")
    with pytest.raises(ValidationError, match="A reason is required to delete an instructor."):
        instructor_soft_delete(instructor=InstructorFactory(), reason="")


@pytest.mark.parametrize("status", ["planned", "enrolling", "active"])
def test_location_soft_delete_is_refused_while_a_running_cohort_meets_there(status):
    cohort = CohortFactory(status=status, name="Spring")

    with pytest.raises(ValidationError, match=r"1 planned, enrolling or active cohort\(s\) meet here \(Spring"):
        location_soft_delete(location=cohort.location, reason="closed")

    assert Location.objects.filter(pk=cohort.location_id).exists()


@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_location_soft_delete_is_allowed_for_finished_cohorts(status):
    cohort = CohortFactory(status=status)

    location_soft_delete(location=cohort.location, reason="closed")

    assert not Location.objects.filter(pk=cohort.location_id).exists()


def test_location_soft_delete_ignores_deleted_cohorts():
    cohort = CohortFactory(status=CohortStatus.ACTIVE, deleted_at=timezone.now())

    location_soft_delete(location=cohort.location, reason="closed")

    assert not Location.objects.filter(pk=cohort.location_id).exists()


@pytest.mark.parametrize("status", ["planned", "enrolling", "active"])
def test_instructor_soft_delete_is_refused_for_a_primary_of_a_running_cohort(status):
    assignment = CohortInstructorFactory(is_primary=True, cohort__status=status)

    with pytest.raises(ValidationError, match="make someone else primary first"):
        instructor_soft_delete(instructor=assignment.instructor, reason="left")

    assert Instructor.objects.filter(pk=assignment.instructor_id).exists()


@pytest.mark.parametrize(("is_primary", "status"), [(False, "active"), (True, "completed"), (True, "cancelled")])
def test_instructor_soft_delete_is_allowed_otherwise(is_primary, status):
    assignment = CohortInstructorFactory(is_primary=is_primary, cohort__status=status)

    instructor_soft_delete(instructor=assignment.instructor, reason="left")

    assert not Instructor.objects.filter(pk=assignment.instructor_id).exists()


def test_soft_delete_guards_refuse_a_deleted_row():
    location = LocationFactory(deleted_at=timezone.now())

    with pytest.raises(ValidationError, match="is already deleted"):
        location_soft_delete(location=location, reason="again")


def test_cohortinstructor_make_primary_refuses_an_inactive_instructor():
    from training.factories import CohortInstructorFactory
    from training.services.cohorts import cohortinstructor_make_primary

    assignment = CohortInstructorFactory(is_primary=False, instructor__is_active=False)

    with pytest.raises(ValidationError, match="is inactive; choose another primary instructor"):
        cohortinstructor_make_primary(assignment=assignment)
    assignment.refresh_from_db()
    assert assignment.is_primary is False


def test_cohort_change_status_lets_an_admin_override_with_a_reason(make_user):
    from training.factories import CohortFactory
    from training.models import CohortStatus
    from training.services.cohorts import cohort_change_status

    cohort = CohortFactory(status=CohortStatus.COMPLETED)
    admin = make_user("admin")

    with pytest.raises(ValidationError, match="An administrator may override this only with a reason"):
        cohort_change_status(cohort=cohort, status=CohortStatus.ACTIVE, user=admin)
    cohort_change_status(cohort=cohort, status=CohortStatus.ACTIVE, user=admin, reason="closed by mistake")

    cohort.refresh_from_db()
    assert cohort.status == CohortStatus.ACTIVE
    assert cohort.events.latest("pgh_id").pgh_context["reason"] == "closed by mistake"


def test_cohort_change_status_refuses_the_same_override_to_staff(make_user):
    from training.factories import CohortFactory
    from training.models import CohortStatus
    from training.services.cohorts import cohort_change_status

    cohort = CohortFactory(status=CohortStatus.COMPLETED)

    with pytest.raises(ValidationError, match="A completed cohort cannot change status"):
        cohort_change_status(cohort=cohort, status=CohortStatus.ACTIVE, user=make_user("staff"), reason="oops")
