import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AccessLog
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
    ClassSession,
    Cohort,
    CohortInstructor,
    CohortStatus,
    EnrollmentStatus,
    Instructor,
    Location,
)

pytestmark = pytest.mark.django_db

VIEWERS = {"admin", "officer", "staff", "instructor", "read_only"}
MANAGERS = {"admin", "staff"}
SESSION_EDITORS = {"admin", "staff", "instructor"}
EXPORTERS = {"admin", "officer", "staff"}


class World:
    """An active cohort with a primary instructor (linked to the logged-in user), a second instructor, one
    session, one enrolled student with a mark; plus another cohort and deleted rows to restore."""

    def __init__(self):
        self.cohort = CohortFactory(name="Spring Wiremen", code="SPRING-01")
        self.primary = CohortInstructorFactory(cohort=self.cohort, is_primary=True)
        self.second = CohortInstructorFactory(cohort=self.cohort, is_primary=False)
        self.session = ClassSessionFactory(cohort=self.cohort, instructor=self.primary.instructor)
        self.enrollment = EnrollmentFactory(cohort=self.cohort)
        self.mark = AttendanceFactory(session=self.session, student=self.enrollment.student)
        self.other = CohortFactory(name="Other Cohort")
        self.other_assignment = CohortInstructorFactory(cohort=self.other)
        self.other_session = ClassSessionFactory(cohort=self.other, instructor=self.other_assignment.instructor)
        self.deleted_cohort = CohortFactory(deleted_at=timezone.now())
        self.deleted_instructor = InstructorFactory(deleted_at=timezone.now())
        self.deleted_location = LocationFactory(deleted_at=timezone.now())


@pytest.fixture
def world():
    return World()


@pytest.fixture
def login(client, make_user, world):
    """Log in a user with the role; their login is the primary instructor of world.cohort (this matters only
    for the instructor role)."""

    def log_in(role):
        user = make_user(role)
        Instructor.objects.filter(pk=world.primary.instructor_id).update(user=user)
        client.force_login(user)
        return client

    return log_in


def url(name, *args):
    return reverse(f"training:{name}", args=args)


# --- Who may open what ------------------------------------------------------------------------------------

PAGES = {
    "cohort_list": (lambda w: url("cohort_list"), VIEWERS),
    "cohort_export": (lambda w: url("cohort_list") + "?export=csv", EXPORTERS),
    "cohort_detail": (lambda w: url("cohort_detail", w.cohort.pk), VIEWERS),
    "cohort_create": (lambda w: url("cohort_create"), MANAGERS),
    "cohort_update": (lambda w: url("cohort_update", w.cohort.pk), MANAGERS),
    "cohort_status": (lambda w: url("cohort_status", w.cohort.pk), MANAGERS),
    "cohort_cancel": (lambda w: url("cohort_cancel", w.cohort.pk), MANAGERS),
    "cohort_delete": (lambda w: url("cohort_delete", w.cohort.pk), MANAGERS),
    "cohort_restore": (lambda w: url("cohort_restore", w.deleted_cohort.pk), MANAGERS),
    "cohortinstructor_create": (lambda w: url("cohortinstructor_create", w.cohort.pk), MANAGERS),
    "cohortinstructor_delete": (lambda w: url("cohortinstructor_delete", w.second.pk), MANAGERS),
    "classsession_create": (lambda w: url("classsession_create", w.cohort.pk), SESSION_EDITORS),
    "classsession_detail": (lambda w: url("classsession_detail", w.session.pk), VIEWERS),
    "classsession_update": (lambda w: url("classsession_update", w.session.pk), SESSION_EDITORS),
    "classsession_delete": (lambda w: url("classsession_delete", w.session.pk), SESSION_EDITORS),
    "session_attendance": (lambda w: url("session_attendance", w.session.pk), SESSION_EDITORS),
    "instructor_list": (lambda w: url("instructor_list"), VIEWERS),
    "instructor_export": (lambda w: url("instructor_list") + "?export=xlsx", EXPORTERS),
    "instructor_detail": (lambda w: url("instructor_detail", w.second.instructor_id), VIEWERS),
    "instructor_create": (lambda w: url("instructor_create"), MANAGERS),
    "instructor_update": (lambda w: url("instructor_update", w.second.instructor_id), MANAGERS),
    "instructor_delete": (lambda w: url("instructor_delete", w.second.instructor_id), MANAGERS),
    "instructor_restore": (lambda w: url("instructor_restore", w.deleted_instructor.pk), MANAGERS),
    "location_list": (lambda w: url("location_list"), VIEWERS),
    "location_export": (lambda w: url("location_list") + "?export=csv", EXPORTERS),
    "location_detail": (lambda w: url("location_detail", w.cohort.location_id), VIEWERS),
    "location_create": (lambda w: url("location_create"), MANAGERS),
    "location_update": (lambda w: url("location_update", w.cohort.location_id), MANAGERS),
    "location_delete": (lambda w: url("location_delete", w.cohort.location_id), MANAGERS),
    "location_restore": (lambda w: url("location_restore", w.deleted_location.pk), MANAGERS),
}


@pytest.mark.parametrize("page", PAGES)
def test_cohort_pages_answer_each_role_as_its_permissions_say(login, any_role, world, page):
    page_url, allowed = PAGES[page]

    response = login(any_role).get(page_url(world))

    assert response.status_code == (200 if any_role in allowed else 403)


@pytest.mark.parametrize("role", ["admin", "officer", "staff", "organizer", "instructor", "read_only"])
def test_make_primary_answers_each_role_as_its_permissions_say(login, world, role):
    response = login(role).post(url("cohortinstructor_make_primary", world.second.pk))

    world.second.refresh_from_db()
    assert response.status_code == (302 if role in MANAGERS else 403)
    assert world.second.is_primary is (role in MANAGERS)


OUT_OF_SCOPE = {
    "cohort_detail": lambda w: url("cohort_detail", w.other.pk),
    "classsession_create": lambda w: url("classsession_create", w.other.pk),
    "classsession_detail": lambda w: url("classsession_detail", w.other_session.pk),
    "classsession_update": lambda w: url("classsession_update", w.other_session.pk),
    "classsession_delete": lambda w: url("classsession_delete", w.other_session.pk),
    "session_attendance": lambda w: url("session_attendance", w.other_session.pk),
    "instructor_detail": lambda w: url("instructor_detail", w.other_assignment.instructor_id),
}


@pytest.mark.parametrize("page", OUT_OF_SCOPE)
def test_instructor_gets_404_outside_own_cohorts(login, world, page):
    response = login("instructor").get(OUT_OF_SCOPE[page](world))

    assert response.status_code == 404


@pytest.mark.parametrize("page", OUT_OF_SCOPE)
def test_staff_reach_every_cohort(login, world, page):
    response = login("staff").get(OUT_OF_SCOPE[page](world))

    assert response.status_code == 200


def test_instructor_cannot_write_attendance_for_another_cohort(login, world):
    student = EnrollmentFactory(cohort=world.other).student

    response = login("instructor").post(
        url("session_attendance", world.other_session.pk), {f"status_{student.pk}": "absent"}
    )

    assert response.status_code == 404
    assert not Attendance.objects.filter(session=world.other_session).exists()


@pytest.mark.parametrize(
    ("role", "page", "data"),
    [
        ("read_only", "cohort_update", {"name": "Changed", "start_date": "2026-09-01"}),
        ("officer", "cohort_status", {"status": "completed"}),
        ("officer", "cohort_cancel", {"reason": "test"}),
        ("instructor", "cohort_delete", {"reason": "test"}),
        ("instructor", "cohortinstructor_delete", {"reason": "test"}),
    ],
)
def test_cohort_writes_are_refused_without_the_permission(login, world, role, page, data):
    page_url, _ = PAGES[page]

    response = login(role).post(page_url(world), data)

    world.cohort.refresh_from_db()
    assert response.status_code == 403
    assert (world.cohort.name, world.cohort.status, world.cohort.deleted_at) == ("Spring Wiremen", "active", None)
    assert CohortInstructor.objects.filter(cohort=world.cohort).count() == 2


@pytest.mark.parametrize("role", ["officer", "read_only"])
def test_attendance_is_refused_to_viewers(login, world, role):
    response = login(role).post(
        url("session_attendance", world.session.pk), {f"status_{world.enrollment.student_id}": "absent"}
    )

    world.mark.refresh_from_db()
    assert response.status_code == 403
    assert world.mark.status == AttendanceStatus.PRESENT


# --- Cohort list ------------------------------------------------------------------------------------------


def test_cohort_list_runs_a_fixed_number_of_queries(login, world, django_assert_max_num_queries):
    for cohort in CohortFactory.create_batch(35):
        EnrollmentFactory.create_batch(2, cohort=cohort)
    client = login("read_only")
    client.get(url("cohort_list"))

    # session, user, user and group permissions, roles (visible_to), location choices, count probe, count,
    # page with locations and seats taken
    with django_assert_max_num_queries(9):
        response = client.get(url("cohort_list"))

    cohorts = response.context["object_list"]
    assert len(cohorts) == 37
    assert sorted({cohort.enrolled for cohort in cohorts}) == [0, 1, 2]


def test_cohort_list_shows_enrolled_of_capacity(login, world):
    EnrollmentFactory(cohort=world.cohort, status=EnrollmentStatus.COMPLETED, completed_on="2026-11-20")
    EnrollmentFactory(cohort=world.cohort, status=EnrollmentStatus.DROPPED)

    response = login("read_only").get(url("cohort_list"), {"q": "spring"})

    [cohort] = response.context["object_list"]
    assert cohort.enrolled == 2
    assert "<td>2 / 20</td>" in response.content.decode()


def test_cohort_list_shows_an_instructor_only_own_cohorts(login, world):
    response = login("instructor").get(url("cohort_list"))

    assert list(response.context["object_list"]) == [world.cohort]


def test_cohort_list_filters_by_status_location_and_search(login, world):
    CohortFactory.create_batch(3, status=CohortStatus.PLANNED, location=world.cohort.location)
    wanted = CohortFactory(
        name="Evening Planned", code="EVE-1", status=CohortStatus.PLANNED, location=world.cohort.location
    )

    response = login("read_only").get(
        url("cohort_list"),
        {"status": ["planned", "enrolling"], "location": world.cohort.location_id, "q": "eve-"},
    )

    assert list(response.context["object_list"]) == [wanted]


def test_cohort_list_sorts_by_name(login, world):
    response = login("read_only").get(url("cohort_list"), {"sort": "-name"})

    names = [cohort.name for cohort in response.context["object_list"]]
    assert names == sorted(names, reverse=True)


def test_cohort_list_rejects_malformed_filters(login, world):
    response = login("read_only").get(url("cohort_list"), {"status": "gone"})

    assert response.status_code == 400


def test_cohort_list_answers_htmx_with_the_table_only(login, world):
    response = login("read_only").get(url("cohort_list"), headers={"HX-Request": "true"})

    content = response.content.decode()
    assert "<table>" in content
    assert "<form" not in content


def test_cohort_list_shows_deleted_cohorts_only_to_those_who_may_restore_them(login, world):
    staff = login("staff").get(url("cohort_list"), {"deleted": "only"})
    reader = login("read_only").get(url("cohort_list"), {"deleted": "only"})

    assert list(staff.context["object_list"]) == [world.deleted_cohort]
    assert world.deleted_cohort not in reader.context["object_list"]


def test_cohort_export_holds_the_filtered_rows_and_is_logged(login, world):
    response = login("staff").get(url("cohort_list"), {"q": "spring", "export": "csv"})

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["code"] for row in rows] == ["SPRING-01"]
    assert rows[0]["location"] == world.cohort.location.code
    log = AccessLog.objects.get()
    assert (log.action, log.row_count) == ("export", 1)


def test_cohort_list_hides_add_and_export_from_read_only(login, world):
    content = login("read_only").get(url("cohort_list")).content.decode()

    assert url("cohort_create") not in content
    assert "export=csv" not in content


# --- Cohort detail ----------------------------------------------------------------------------------------


def test_cohort_detail_shows_roster_capacity_instructors_and_sessions(login, world):
    in_progress = EnrollmentFactory(cohort=world.cohort, status=EnrollmentStatus.IN_PROGRESS)
    AttendanceFactory(session=world.session, student=in_progress.student, status=AttendanceStatus.ABSENT)
    EnrollmentFactory(cohort=world.cohort, status=EnrollmentStatus.DROPPED)

    response = login("read_only").get(url("cohort_detail", world.cohort.pk))

    context = response.context
    rates = {e.student_id: (e.status, e.attendance_rate) for e in context["roster"]}
    assert rates[world.enrollment.student_id] == (EnrollmentStatus.ENROLLED, 1.0)
    assert rates[in_progress.student_id] == (EnrollmentStatus.IN_PROGRESS, 0.0)
    assert len(rates) == 3
    assert context["seats_taken"] == 2
    assert '<dd id="capacity">2 of 20</dd>' in response.content.decode()
    assert [a.pk for a in context["assignments"]] == [world.primary.pk, world.second.pk]
    assert [s.pk for s in context["sessions"]] == [world.session.pk]
    assert context["sessions"][0].marks == 2


def test_cohort_detail_runs_a_fixed_number_of_queries(login, world, django_assert_max_num_queries):
    sessions = ClassSessionFactory.create_batch(8, cohort=world.cohort, instructor=world.primary.instructor)
    for enrollment in EnrollmentFactory.create_batch(25, cohort=world.cohort):
        for session in sessions[:3]:
            AttendanceFactory(session=session, student=enrollment.student)
    client = login("read_only")
    client.get(url("cohort_detail", world.cohort.pk))

    # session, user, permissions (2), roles, cohort, roster, rates, instructors, sessions
    with django_assert_max_num_queries(10):
        response = client.get(url("cohort_detail", world.cohort.pk))

    assert len(response.context["roster"]) == 26


def test_cohort_detail_shows_read_only_no_actions(login, world):
    content = login("read_only").get(url("cohort_detail", world.cohort.pk)).content.decode()

    for name in ("cohort_update", "cohort_status", "cohort_cancel", "cohort_delete", "cohortinstructor_create"):
        assert url(name, world.cohort.pk) not in content
    assert url("session_attendance", world.session.pk) not in content
    assert "Make primary" not in content


def test_cohort_detail_shows_an_instructor_session_and_attendance_actions_only(login, world):
    content = login("instructor").get(url("cohort_detail", world.cohort.pk)).content.decode()

    assert url("classsession_create", world.cohort.pk) in content
    assert url("session_attendance", world.session.pk) in content
    assert url("cohort_update", world.cohort.pk) not in content
    assert url("cohortinstructor_delete", world.second.pk) not in content


def test_cohort_detail_shows_staff_every_action(login, world):
    content = login("staff").get(url("cohort_detail", world.cohort.pk)).content.decode()

    for name in ("cohort_update", "cohort_status", "cohort_cancel", "cohort_delete", "classsession_create"):
        assert url(name, world.cohort.pk) in content
    assert url("cohortinstructor_make_primary", world.second.pk) in content


# --- Cohort writes ----------------------------------------------------------------------------------------


def test_cohort_create_saves_a_planned_cohort(login, world):
    data = {"name": "Fall", "code": "IP2A-2027-01", "start_date": "2027-01-04", "end_date": "2027-03-26"}

    response = login("staff").post(url("cohort_create"), {**data, "max_students": 18})

    cohort = Cohort.objects.get(code="IP2A-2027-01")
    assert response.status_code == 302
    assert response["Location"] == url("cohort_detail", cohort.pk)
    assert (cohort.status, cohort.max_students) == (CohortStatus.PLANNED, 18)


def test_cohort_create_answers_bad_dates_with_400_and_the_message(login, world):
    response = login("staff").post(
        url("cohort_create"), {"name": "Fall", "start_date": "2027-03-01", "end_date": "2027-01-01"}
    )

    assert response.status_code == 400
    assert "The end date cannot be before the start date." in response.content.decode()
    assert not Cohort.objects.filter(name="Fall").exists()


def test_cohort_update_checks_the_capacity_again_under_the_cohort_lock(login, world, monkeypatch):
    """The form's count may be stale (an enrollment committed since); the save counts again with the cohort row
    locked, as enrollment_create does, so a lowered capacity and a new seat cannot both pass."""
    from training.forms.cohorts import CohortForm

    EnrollmentFactory(cohort=world.cohort)
    monkeypatch.setattr(CohortForm, "clean_max_students", lambda form: form.cleaned_data["max_students"])

    response = login("staff").post(
        url("cohort_update", world.cohort.pk),
        {"name": "Spring Wiremen", "start_date": "2026-09-01", "max_students": 1},
    )

    world.cohort.refresh_from_db()
    assert response.status_code == 400
    assert "2 students already hold a seat" in response.content.decode()
    assert world.cohort.max_students == 20


def test_cohort_update_refuses_a_capacity_below_the_seats_taken(login, world):
    EnrollmentFactory(cohort=world.cohort)

    response = login("staff").post(
        url("cohort_update", world.cohort.pk),
        {"name": "Spring Wiremen", "start_date": "2026-09-01", "max_students": 1},
    )

    world.cohort.refresh_from_db()
    assert response.status_code == 400
    assert "2 students already hold a seat" in response.content.decode()
    assert world.cohort.max_students == 20


def test_cohort_status_advances_one_step(login, world):
    cohort = CohortFactory(status=CohortStatus.PLANNED)

    response = login("staff").post(url("cohort_status", cohort.pk), {"status": "enrolling", "reason": ""})

    cohort.refresh_from_db()
    assert response.status_code == 302
    assert cohort.status == CohortStatus.ENROLLING


def test_cohort_status_refuses_a_skipped_step_with_400(login, world):
    cohort = CohortFactory(status=CohortStatus.PLANNED)

    response = login("staff").post(url("cohort_status", cohort.pk), {"status": "active"})

    cohort.refresh_from_db()
    assert response.status_code == 400
    assert cohort.status == CohortStatus.PLANNED


def test_cohort_cancel_defers_open_enrollments(login, world):
    completed = EnrollmentFactory(cohort=world.cohort, status=EnrollmentStatus.COMPLETED, completed_on="2026-11-20")

    response = login("staff").post(url("cohort_cancel", world.cohort.pk), {"reason": "instructor left"})

    world.cohort.refresh_from_db()
    world.enrollment.refresh_from_db()
    completed.refresh_from_db()
    assert response.status_code == 302
    assert world.cohort.status == CohortStatus.CANCELLED
    assert (world.enrollment.status, completed.status) == (EnrollmentStatus.DEFERRED, EnrollmentStatus.COMPLETED)


def test_cohort_cancel_requires_a_reason(login, world):
    response = login("staff").post(url("cohort_cancel", world.cohort.pk), {"reason": ""})

    world.cohort.refresh_from_db()
    assert response.status_code == 400
    assert world.cohort.status == CohortStatus.ACTIVE


def test_cohort_delete_is_refused_with_open_enrollments(login, world):
    response = login("staff").post(url("cohort_delete", world.cohort.pk), {"reason": "duplicate"})

    world.cohort.refresh_from_db()
    assert response.status_code == 400
    assert "1 open enrollment" in response.content.decode()
    assert world.cohort.deleted_at is None


def test_cohort_delete_and_restore(login, world):
    client = login("staff")

    deleted = client.post(url("cohort_delete", world.other.pk), {"reason": "duplicate"})
    world.other.refresh_from_db()
    assert (deleted.status_code, world.other.is_deleted) == (302, True)

    restored = client.post(url("cohort_restore", world.other.pk), {"reason": "not a duplicate"})
    world.other.refresh_from_db()
    assert (restored.status_code, world.other.is_deleted) == (302, False)


# --- Instructor assignments -------------------------------------------------------------------------------


def test_assign_instructor_as_primary_demotes_the_previous_primary(login, world):
    newcomer = InstructorFactory()

    response = login("staff").post(
        url("cohortinstructor_create", world.cohort.pk), {"instructor": newcomer.pk, "is_primary": "on"}
    )

    assert response.status_code == 302
    assert list(
        CohortInstructor.objects.filter(cohort=world.cohort, is_primary=True).values_list("instructor", flat=True)
    ) == [newcomer.pk]


def test_assign_instructor_refuses_one_already_assigned(login, world):
    response = login("staff").post(
        url("cohortinstructor_create", world.cohort.pk), {"instructor": world.second.instructor_id}
    )

    assert response.status_code == 400
    assert CohortInstructor.objects.filter(cohort=world.cohort).count() == 2


def test_remove_instructor_is_refused_while_they_teach_a_session(login, world):
    response = login("staff").post(url("cohortinstructor_delete", world.primary.pk), {"reason": "left"})

    assert response.status_code == 400
    assert "teaches 1 session" in response.content.decode()
    assert CohortInstructor.objects.filter(pk=world.primary.pk).exists()


def test_remove_instructor(login, world):
    response = login("staff").post(url("cohortinstructor_delete", world.second.pk), {"reason": "left"})

    assert response.status_code == 302
    assert not CohortInstructor.objects.filter(pk=world.second.pk).exists()


# --- Sessions ---------------------------------------------------------------------------------------------


def session_data(world, **overrides):
    return {
        "date": "2026-09-08",
        "start_time": "18:00",
        "end_time": "21:00",
        "instructor": world.second.instructor_id,
        **overrides,
    }


def test_instructor_adds_a_session_to_own_cohort_at_the_cohort_location(login, world):
    response = login("instructor").post(url("classsession_create", world.cohort.pk), session_data(world))

    session = ClassSession.objects.get(cohort=world.cohort, date=dt.date(2026, 9, 8))
    assert response.status_code == 302
    assert response["Location"] == url("classsession_detail", session.pk)
    assert session.location_id == world.cohort.location_id


def test_session_create_offers_the_cohort_location_first(login, world):
    response = login("staff").get(url("classsession_create", world.cohort.pk))

    assert response.context["form"]["location"].value() == world.cohort.location_id


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"date": "2026-12-01"}, "The date must be within the cohort&#x27;s dates (2026-09-01 – 2026-11-20)."),
        ({"instructor": "other"}, "Choose an instructor assigned to this cohort."),
        ({"end_time": "17:00"}, "The end time must be after the start time."),
    ],
)
def test_session_create_answers_broken_rules_with_400(login, world, overrides, message):
    if overrides.get("instructor") == "other":
        overrides["instructor"] = world.other_assignment.instructor_id

    response = login("staff").post(url("classsession_create", world.cohort.pk), session_data(world, **overrides))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert ClassSession.objects.filter(cohort=world.cohort).count() == 1


def test_a_cancelled_cohort_offers_and_takes_no_new_session(login, world):
    Cohort.objects.filter(pk=world.cohort.pk).update(status=CohortStatus.CANCELLED)
    client = login("staff")

    page = client.get(url("cohort_detail", world.cohort.pk)).content.decode()
    response = client.post(url("classsession_create", world.cohort.pk), session_data(world))

    assert url("classsession_create", world.cohort.pk) not in page
    assert response.status_code == 400
    assert "This cohort is cancelled: it takes no new sessions." in response.content.decode()
    assert ClassSession.objects.filter(cohort=world.cohort).count() == 1


def test_session_update_and_delete(login, world):
    client = login("instructor")

    updated = client.post(url("classsession_update", world.session.pk), session_data(world, topic="Conduit bending"))
    world.session.refresh_from_db()
    assert (updated.status_code, world.session.topic) == (302, "Conduit bending")

    deleted = client.post(url("classsession_delete", world.session.pk), {"reason": "entered twice"})
    assert deleted.status_code == 302
    assert not ClassSession.objects.filter(pk=world.session.pk).exists()
    assert not Attendance.objects.filter(pk=world.mark.pk).exists()


# --- Attendance sheet -------------------------------------------------------------------------------------


def sheet(enrollments, **statuses):
    data = {}
    for enrollment in enrollments:
        pk = enrollment.student_id
        data |= {f"status_{pk}": statuses.get(str(pk), "present"), f"minutes_late_{pk}": "", f"notes_{pk}": ""}
    return data


def test_attendance_sheet_lists_enrolled_in_progress_and_completed_students(login, world):
    in_progress = EnrollmentFactory(cohort=world.cohort, status=EnrollmentStatus.IN_PROGRESS)
    completed = EnrollmentFactory(cohort=world.cohort, status=EnrollmentStatus.COMPLETED, completed_on="2026-11-20")
    EnrollmentFactory(cohort=world.cohort, status=EnrollmentStatus.DROPPED)
    EnrollmentFactory(cohort=world.cohort, student=StudentFactory(deleted_at=timezone.now()))

    response = login("instructor").get(url("session_attendance", world.session.pk))

    listed = {enrollment.pk for enrollment in response.context["form"].enrollments}
    assert listed == {world.enrollment.pk, in_progress.pk, completed.pk}
    assert "enrolled, in progress or completed" in response.content.decode()


def test_attendance_sheet_saves_every_mark_in_one_go(login, world):
    others = EnrollmentFactory.create_batch(2, cohort=world.cohort)
    late, absent = others
    data = sheet([world.enrollment, *others], **{str(late.student_id): "late", str(absent.student_id): "absent"})
    data[f"minutes_late_{late.student_id}"] = "15"
    data[f"notes_{absent.student_id}"] = "called in sick"

    response = login("instructor").post(url("session_attendance", world.session.pk), data)

    marks = {
        m.student_id: (m.status, m.minutes_late, m.notes) for m in Attendance.objects.filter(session=world.session)
    }
    assert response.status_code == 302
    assert marks == {
        world.enrollment.student_id: ("present", None, ""),
        late.student_id: ("late", 15, ""),
        absent.student_id: ("absent", None, "called in sick"),
    }


def test_attendance_sheet_refuses_minutes_late_for_a_present_mark(login, world):
    data = sheet([world.enrollment])
    data[f"minutes_late_{world.enrollment.student_id}"] = "10"

    response = login("staff").post(url("session_attendance", world.session.pk), data)

    assert response.status_code == 400
    assert "Minutes late only for a late mark." in response.content.decode()


def test_attendance_sheet_is_refused_for_a_cancelled_session(login, world):
    ClassSession.objects.filter(pk=world.session.pk).update(is_cancelled=True)
    world.mark.delete()

    client = login("staff")
    page = client.get(url("session_attendance", world.session.pk))
    response = client.post(url("session_attendance", world.session.pk), sheet([world.enrollment]))

    assert page.status_code == 200
    assert "cancelled sessions take no attendance" in page.content.decode()
    assert response.status_code == 400
    assert not Attendance.objects.filter(session=world.session).exists()


def test_attendance_sheet_with_25_students_runs_a_fixed_number_of_queries(login, world, django_assert_max_num_queries):
    enrollments = [world.enrollment, *EnrollmentFactory.create_batch(24, cohort=world.cohort)]
    for enrollment in enrollments[1:10]:
        AttendanceFactory(session=world.session, student=enrollment.student)
    client = login("instructor")
    client.get(url("session_attendance", world.session.pk))

    # session, user, permissions (2), roles, session, enrollments with students, marks
    with django_assert_max_num_queries(8):
        page = client.get(url("session_attendance", world.session.pk))
    assert len(page.context["form"].enrollments) == 25

    data = sheet(enrollments, **{str(e.student_id): "absent" for e in enrollments[::2]})
    # session, user, permissions (2), roles, session, its marks, the sheet's enrollments, then the service: locked
    # session, enrolled students, marks, update, insert (each write with its history context), message cookie
    with django_assert_max_num_queries(17):
        response = client.post(url("session_attendance", world.session.pk), data)

    assert response.status_code == 302
    assert Attendance.objects.filter(session=world.session).count() == 25
    assert Attendance.objects.filter(session=world.session, status="absent").count() == 13


# --- Instructors and locations ----------------------------------------------------------------------------


def test_instructor_list_runs_a_fixed_number_of_queries(login, world, django_assert_max_num_queries):
    InstructorFactory.create_batch(35)
    client = login("read_only")
    client.get(url("instructor_list"))

    with django_assert_max_num_queries(8):
        response = client.get(url("instructor_list"), {"q": ""})

    assert len(response.context["object_list"]) == 38  # the world's three live instructors and 35 more


def test_instructor_list_shows_an_instructor_the_colleagues_of_own_cohorts(login, world):
    response = login("instructor").get(url("instructor_list"))

    assert {i.pk for i in response.context["object_list"]} == {world.primary.instructor_id, world.second.instructor_id}


def test_instructor_detail_shows_cohorts_taught_and_upcoming_sessions(login, world):
    today = timezone.localdate()
    running = CohortFactory(start_date=today - dt.timedelta(days=7), end_date=today + dt.timedelta(days=30))
    CohortInstructorFactory(cohort=running, instructor=world.second.instructor, is_primary=False)
    upcoming = ClassSessionFactory(
        cohort=running, date=today + dt.timedelta(days=2), instructor=world.second.instructor
    )
    ClassSessionFactory(cohort=running, date=today - dt.timedelta(days=2), instructor=world.second.instructor)

    response = login("staff").get(url("instructor_detail", world.second.instructor_id))

    assert {a.cohort_id for a in response.context["assignments"]} == {world.cohort.pk, running.pk}
    assert list(response.context["upcoming_sessions"]) == [upcoming]


def test_instructor_detail_hides_the_rate_from_viewers(login, world):
    content = login("read_only").get(url("instructor_detail", world.second.instructor_id)).content.decode()

    assert "<dt>Rate</dt>" not in content


def test_instructor_create_and_update(login, world):
    client = login("staff")
    data = {
        "first_name": "Ana",
        "last_name": "Ruiz",
        "email": "Ana@Example.org",
        "rate_type": "hourly",
        "is_active": "on",
    }

    created = client.post(url("instructor_create"), data)
    instructor = Instructor.objects.get(email="ana@example.org")
    updated = client.post(url("instructor_update", instructor.pk), {**data, "phone": "206-555-0100"})

    instructor.refresh_from_db()
    assert (created.status_code, updated.status_code, instructor.phone) == (302, 302, "206-555-0100")


def test_instructor_delete_is_refused_for_a_primary_of_a_running_cohort(login, world):
    response = login("staff").post(url("instructor_delete", world.primary.instructor_id), {"reason": "left"})

    assert response.status_code == 400
    assert "primary instructor of 1 planned, enrolling or active cohort" in response.content.decode()
    assert Instructor.objects.filter(pk=world.primary.instructor_id).exists()


def test_instructor_delete_and_restore(login, world):
    client = login("staff")

    deleted = client.post(url("instructor_delete", world.second.instructor_id), {"reason": "left"})
    restored = client.post(url("instructor_restore", world.second.instructor_id), {"reason": "came back"})

    assert (deleted.status_code, restored.status_code) == (302, 302)
    assert Instructor.objects.filter(pk=world.second.instructor_id).exists()


def test_location_list_runs_a_fixed_number_of_queries(login, world, django_assert_max_num_queries):
    LocationFactory.create_batch(35)
    client = login("read_only")
    client.get(url("location_list"))

    with django_assert_max_num_queries(7):
        response = client.get(url("location_list"), {"location_type": "training_site", "sort": "-code"})

    codes = [location.code for location in response.context["object_list"]]
    assert len(codes) == 38  # the world's three live locations and 35 more
    assert codes == sorted(codes, reverse=True)


def test_location_detail_shows_only_an_instructors_own_cohorts(login, world):
    CohortFactory(location=world.cohort.location, name="Not yours")

    response = login("instructor").get(url("location_detail", world.cohort.location_id))

    assert list(response.context["cohorts"]) == [world.cohort]
    assert response.context["cohorts"][0].enrolled == 1


def test_location_delete_is_refused_while_a_running_cohort_meets_there(login, world):
    response = login("staff").post(url("location_delete", world.cohort.location_id), {"reason": "closed"})

    assert response.status_code == 400
    assert "move them to another location first" in response.content.decode()
    assert Location.objects.filter(pk=world.cohort.location_id).exists()


def test_location_create_delete_and_restore(login, world):
    client = login("staff")

    created = client.post(
        url("location_create"), {"name": "Hall B", "code": "HALL-B", "location_type": "school", "state": "wa"}
    )
    location = Location.objects.get(code="HALL-B")
    deleted = client.post(url("location_delete", location.pk), {"reason": "closed"})
    restored = client.post(url("location_restore", location.pk), {"reason": "reopened"})

    location.refresh_from_db()
    assert (created.status_code, deleted.status_code, restored.status_code) == (302, 302, 302)
    assert (location.state, location.deleted_at) == ("WA", None)


@pytest.mark.parametrize(("role", "offered"), [("admin", True), ("staff", False)])
def test_completed_cohort_offers_a_status_override_only_to_admins(login, world, role, offered):
    Cohort.objects.filter(pk=world.cohort.pk).update(status="completed")
    client = login(role)

    html = client.get(url("cohort_detail", world.cohort.pk)).content.decode()

    assert (f'href="{url("cohort_status", world.cohort.pk)}">Change status</a>' in html) is offered


def test_cohort_status_override_by_an_admin_needs_a_reason_and_then_applies(login, world):
    Cohort.objects.filter(pk=world.cohort.pk).update(status="completed")
    client = login("admin")

    refused = client.post(url("cohort_status", world.cohort.pk), {"status": "active", "reason": ""})
    done = client.post(url("cohort_status", world.cohort.pk), {"status": "active", "reason": "closed too early"})

    assert refused.status_code == 400
    assert done.status_code == 302
    world.cohort.refresh_from_db()
    assert world.cohort.status == "active"
