import datetime as dt

import pytest
from django.utils import timezone

from training.factories import (
    AttendanceFactory,
    ClassSessionFactory,
    CohortFactory,
    CohortInstructorFactory,
    EnrollmentFactory,
    InstructorFactory,
    LocationFactory,
)
from training.forms.cohorts import (
    AttendanceSheetForm,
    ClassSessionForm,
    CohortForm,
    CohortInstructorForm,
    CohortStatusForm,
    InstructorForm,
    LocationForm,
)
from training.models import AttendanceStatus, ClassSession, CohortInstructor, CohortStatus, EnrollmentStatus

pytestmark = pytest.mark.django_db


# --- Cohort -----------------------------------------------------------------------------------------------


def test_cohort_form_shows_the_end_date_rule():
    form = CohortForm({"name": "Fall", "start_date": "2027-03-01", "end_date": "2027-01-01"})

    assert form.errors == {"__all__": ["The end date cannot be before the start date."]}


def test_cohort_form_refuses_a_code_taken_by_a_deleted_cohort():
    CohortFactory(code="IP2A-2027-01", deleted_at=timezone.now())

    form = CohortForm({"name": "Fall", "code": "IP2A-2027-01", "start_date": "2027-01-04"})

    assert form.errors == {"__all__": ["This code is already in use (deleted records included)."]}


def test_cohort_form_refuses_a_capacity_below_the_seats_taken():
    cohort = CohortFactory(max_students=20)
    EnrollmentFactory.create_batch(2, cohort=cohort, status=EnrollmentStatus.IN_PROGRESS)
    EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.DROPPED)

    low = CohortForm({"name": cohort.name, "start_date": "2026-09-01", "max_students": 1}, instance=cohort)
    enough = CohortForm({"name": cohort.name, "start_date": "2026-09-01", "max_students": 2}, instance=cohort)

    assert low.errors == {"max_students": ["2 students already hold a seat; the capacity cannot be lower."]}
    assert enough.is_valid()


def test_cohort_form_offers_live_locations_and_the_current_one():
    live = LocationFactory()
    gone = LocationFactory(deleted_at=timezone.now())
    cohort = CohortFactory(location=gone)
    LocationFactory(deleted_at=timezone.now())  # another deleted one, never offered

    assert set(CohortForm().fields["location"].queryset) == {live}
    assert set(CohortForm(instance=cohort).fields["location"].queryset) == {live, gone}


@pytest.mark.parametrize(
    ("status", "offered"),
    [("planned", ["enrolling"]), ("enrolling", ["active"]), ("active", ["completed"]), ("completed", [])],
)
def test_cohort_status_form_offers_only_the_next_step(status, offered):
    form = CohortStatusForm(cohort=CohortFactory(status=status))

    assert [value for value, _ in form.fields["status"].choices] == offered


def test_cohort_status_form_refuses_a_skipped_step():
    form = CohortStatusForm({"status": "completed"}, cohort=CohortFactory(status=CohortStatus.PLANNED))

    assert list(form.errors) == ["status"]


# --- Assignments ------------------------------------------------------------------------------------------


def test_assignment_form_offers_active_unassigned_instructors_only():
    assigned = CohortInstructorFactory()
    free = InstructorFactory()
    InstructorFactory(is_active=False)
    InstructorFactory(deleted_at=timezone.now())

    form = CohortInstructorForm(instance=CohortInstructor(cohort=assigned.cohort))

    assert list(form.fields["instructor"].queryset) == [free]


def test_assignment_form_proposes_primary_only_for_a_cohort_without_one():
    assigned = CohortInstructorFactory(is_primary=False)
    with_primary = CohortInstructorFactory(is_primary=True)

    without = CohortInstructorForm(instance=CohortInstructor(cohort=assigned.cohort))
    having = CohortInstructorForm(instance=CohortInstructor(cohort=with_primary.cohort))

    assert (without["is_primary"].value(), having["is_primary"].value()) == (True, False)


def test_assignment_form_says_why_an_assigned_instructor_is_refused():
    assigned = CohortInstructorFactory()

    form = CohortInstructorForm(
        {"instructor": assigned.instructor_id}, instance=CohortInstructor(cohort=assigned.cohort)
    )

    assert form.errors == {"instructor": ["Choose an active instructor who is not yet assigned to this cohort."]}


# --- Sessions ---------------------------------------------------------------------------------------------


@pytest.fixture
def assignment():
    return CohortInstructorFactory(cohort__start_date=dt.date(2026, 9, 1), cohort__end_date=dt.date(2026, 11, 20))


def session_form(assignment, **data):
    return ClassSessionForm(
        {"date": "2026-09-08", "instructor": assignment.instructor_id, **data},
        instance=ClassSession(cohort=assignment.cohort),
    )


@pytest.mark.parametrize("date", ["2026-09-01", "2026-11-20"])
def test_session_form_accepts_the_cohorts_first_and_last_day(assignment, date):
    assert session_form(assignment, date=date).is_valid()


@pytest.mark.parametrize("date", ["2026-08-31", "2026-11-21"])
def test_session_form_refuses_a_day_outside_the_cohort(assignment, date):
    form = session_form(assignment, date=date)

    assert form.errors == {"date": ["The date must be within the cohort's dates (2026-09-01 – 2026-11-20)."]}


def test_session_form_accepts_any_later_day_of_an_open_ended_cohort():
    assignment = CohortInstructorFactory(cohort__start_date=dt.date(2026, 9, 1), cohort__end_date=None)

    assert session_form(assignment, date="2027-06-01").is_valid()


def test_session_form_refuses_an_instructor_not_assigned_to_the_cohort(assignment):
    stranger = InstructorFactory()

    form = session_form(assignment, instructor=stranger.pk)

    assert form.errors == {"instructor": ["Choose an instructor assigned to this cohort."]}


def test_session_form_refuses_a_new_session_in_a_cancelled_cohort(assignment):
    assignment.cohort.status = CohortStatus.CANCELLED

    form = session_form(assignment)

    assert form.errors == {"__all__": ["This cohort is cancelled: it takes no new sessions."]}


def test_session_form_still_edits_an_existing_session_of_a_cancelled_cohort(assignment):
    session = session_form(assignment).save()
    assignment.cohort.status = CohortStatus.CANCELLED
    session.cohort = assignment.cohort

    form = ClassSessionForm({"date": "2026-09-08", "topic": "Moved online"}, instance=session)

    assert form.is_valid(), form.errors


def test_session_form_offers_the_cohort_location_and_saves_it_when_left_empty(assignment):
    assert ClassSessionForm(instance=ClassSession(cohort=assignment.cohort))["location"].value() == (
        assignment.cohort.location_id
    )

    form = session_form(assignment, location="")
    session = form.save()

    assert session.location_id == assignment.cohort.location_id


def test_session_form_keeps_another_location(assignment):
    hall = LocationFactory()

    session = session_form(assignment, location=hall.pk).save()

    assert session.location_id == hall.pk


def test_session_form_shows_the_time_rule(assignment):
    form = session_form(assignment, start_time="18:00", end_time="17:00")

    assert form.errors == {"__all__": ["The end time must be after the start time."]}


def test_session_form_keeps_the_instructor_of_an_existing_session_valid():
    session = ClassSessionFactory()

    form = ClassSessionForm(
        {"date": session.date.isoformat(), "instructor": session.instructor_id, "topic": "Safety"}, instance=session
    )

    assert form.is_valid()


# --- Attendance sheet -------------------------------------------------------------------------------------


def sheet_form(session, data=None):
    enrollments = session.cohort.enrollments.select_related("student").order_by("pk")
    marks = {mark.student_id: mark for mark in session.attendance.all()}
    return AttendanceSheetForm(data, enrollments=enrollments, marks=marks)


def test_attendance_sheet_form_starts_from_the_existing_marks():
    mark = AttendanceFactory(status=AttendanceStatus.LATE, minutes_late=12, notes="traffic")
    new = EnrollmentFactory(cohort=mark.session.cohort)

    form = sheet_form(mark.session)

    assert form[f"status_{mark.student_id}"].value() == "late"
    assert form[f"minutes_late_{mark.student_id}"].value() == 12
    assert form[f"notes_{mark.student_id}"].value() == "traffic"
    assert form[f"status_{new.student_id}"].value() == "present"


def test_attendance_sheet_form_gives_the_marks_for_the_service():
    session = ClassSessionFactory()
    first, second = EnrollmentFactory.create_batch(2, cohort=session.cohort)
    data = {
        f"status_{first.student_id}": "late",
        f"minutes_late_{first.student_id}": "5",
        f"status_{second.student_id}": "absent",
        f"notes_{second.student_id}": "sick",
    }

    form = sheet_form(session, data)

    assert form.is_valid()
    assert form.marks() == [
        {"student": first.student, "status": "late", "minutes_late": 5, "notes": ""},
        {"student": second.student, "status": "absent", "minutes_late": None, "notes": "sick"},
    ]


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"status": "present", "minutes_late": "5"}, {"minutes_late": ["Minutes late only for a late mark."]}),
        ({"status": ""}, {"status": ["This field is required."]}),
        (
            {"status": "late", "minutes_late": "0"},
            {"minutes_late": ["Ensure this value is greater than or equal to 1."]},
        ),
    ],
)
def test_attendance_sheet_form_refuses_bad_rows(data, errors):
    enrollment = EnrollmentFactory()
    session = ClassSessionFactory(cohort=enrollment.cohort)
    pk = enrollment.student_id

    form = sheet_form(session, {f"{field}_{pk}": value for field, value in data.items()})

    assert form.errors == {f"{field}_{pk}": messages for field, messages in errors.items()}


# --- Instructors and locations ----------------------------------------------------------------------------


def test_instructor_form_offers_logins_not_linked_to_another_instructor(make_user):
    free = make_user("instructor", username="free")
    taken = make_user("instructor", username="taken")
    InstructorFactory(user=taken)
    own = InstructorFactory(user=make_user("instructor", username="own"))

    assert list(InstructorForm().fields["user"].queryset) == [free]
    assert list(InstructorForm(instance=own).fields["user"].queryset) == [free, own.user]


def test_instructor_form_refuses_an_email_of_a_deleted_instructor():
    InstructorFactory(email="ana@example.org", deleted_at=timezone.now())

    form = InstructorForm(
        {"first_name": "Ana", "last_name": "Ruiz", "email": "ANA@example.org", "rate_type": "hourly"}
    )

    assert form.errors == {"__all__": ["This email address is already in use (deleted records included)."]}


def test_instructor_form_refuses_a_negative_rate():
    data = {"first_name": "Ana", "last_name": "Ruiz", "email": "ana@example.org", "rate_type": "hourly"}

    form = InstructorForm({**data, "rate_amount": "-1"})

    assert form.errors == {"__all__": ["The rate amount cannot be negative."]}


def test_location_form_refuses_a_code_of_a_deleted_location_and_upper_cases_the_state():
    LocationFactory(code="HALL-A", deleted_at=timezone.now())

    taken = LocationForm({"name": "Hall", "code": "HALL-A", "location_type": "school"})
    fine = LocationForm({"name": "Hall", "code": "HALL-B", "location_type": "school", "state": "wa"})

    assert taken.errors == {"__all__": ["This code is already in use (deleted records included)."]}
    assert fine.is_valid()
    assert fine.cleaned_data["state"] == "WA"
