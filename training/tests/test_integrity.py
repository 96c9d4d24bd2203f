import datetime

import pytest
from django.db import connection
from django.utils import timezone

import training.integrity  # noqa: F401  (registers the checks)
from audit.models import CommandRun
from ip2a.integrity import CHECKS, CheckContext, apply_repairs, run_check
from training.factories import (
    AttendanceFactory,
    ClassSessionFactory,
    CohortFactory,
    CohortInstructorFactory,
    CredentialFactory,
    EnrollmentFactory,
    InstructorFactory,
    JATCApplicationFactory,
    StudentFactory,
)
from training.models import (
    ApplicationStatus,
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

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = D(2026, 10, 1)
CHECK_IDS = [
    "STU-001", "STU-002", "INS-001", "COH-001", "COH-002", "COH-003", "COH-004", "COH-005", "ENR-001", "ENR-002",
    "ENR-003", "ENR-004", "SES-001", "SES-002", "ATD-001", "ATD-002", "ATD-003", "CRD-001", "CRD-002", "APP-001",
    "APP-002",
]  # fmt: skip


def check(check_id, today=TODAY):
    return run_check(CHECKS[check_id], CheckContext(today=today))


def drop_rule(model, rule):
    """Drop a named constraint (or unique index); the test's transaction rolls the DDL back."""
    name = f"{model._meta.db_table}_{rule}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_constraint WHERE conname = %s", [name])
        if cursor.fetchone():
            cursor.execute(f'ALTER TABLE "{model._meta.db_table}" DROP CONSTRAINT "{name}"')
        else:
            cursor.execute(f'DROP INDEX "{name}"')


def repair(issues):
    run_id = CommandRun.objects.create(command="repair").pk
    results = apply_repairs(issues, run_id=run_id)
    assert [result.status for result in results] == ["applied"] * len(issues)
    return run_id


def repair_context(obj):
    event = type(obj).pgh_event_model.objects.filter(pgh_obj_id=obj.pk).order_by("pgh_id").last()
    return {"source": event.pgh_context["source"], "reason": event.pgh_context["reason"]}


def deleted(obj):
    obj.soft_delete(reason="test")
    return obj


def ids(issues):
    return [issue.object_ids for issue in issues]


def is_manual(issues):
    return all(issue.repair is None and issue.fix is None for issue in issues)


@pytest.fixture
def clean_data():
    """A small program with every kind of row, consistent with every rule."""
    active = CohortFactory(status=CohortStatus.ACTIVE, start_date=D(2026, 9, 1), end_date=D(2026, 11, 20))
    CohortInstructorFactory(cohort=active, is_primary=True)
    session = ClassSessionFactory(cohort=active)
    AttendanceFactory(session=session)
    AttendanceFactory(session=session, status=AttendanceStatus.LATE, minutes_late=12)
    EnrollmentFactory(cohort=active, status=EnrollmentStatus.IN_PROGRESS)
    finished = CohortFactory(status=CohortStatus.COMPLETED, start_date=D(2026, 3, 2), end_date=D(2026, 5, 22))
    CohortInstructorFactory(cohort=finished, is_primary=True)
    graduate = EnrollmentFactory(
        cohort=finished,
        status=EnrollmentStatus.COMPLETED,
        enrolled_on=D(2026, 2, 15),
        completed_on=D(2026, 5, 22),
    ).student
    EnrollmentFactory(cohort=active, student=graduate, status=EnrollmentStatus.ENROLLED)
    CredentialFactory(student=graduate, issue_date=D(2026, 5, 22), expiration_date=D(2029, 5, 22))
    CredentialFactory(student=graduate, issue_date=D(2023, 1, 5), expiration_date=D(2026, 1, 5), status="expired")
    JATCApplicationFactory(
        student=graduate,
        application_date=D(2026, 6, 1),
        interview_date=D(2026, 7, 1),
        decision_date=D(2026, 7, 15),
        status=ApplicationStatus.ACCEPTED,
    )
    CohortFactory(status=CohortStatus.CANCELLED, start_date=D(2026, 1, 5), end_date=D(2026, 3, 27))
    CohortFactory(status=CohortStatus.PLANNED, start_date=D(2027, 1, 4), end_date=D(2027, 3, 26))


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_training_checks_find_nothing_in_clean_data(clean_data, check_id):
    assert check(check_id) == []


def test_training_checks_are_registered_with_the_domain_severities():
    severities = {check_id: CHECKS[check_id].severity for check_id in CHECK_IDS}

    assert severities == {
        "STU-001": "critical", "STU-002": "critical", "INS-001": "critical", "COH-001": "critical",
        "COH-002": "critical", "COH-003": "warning", "COH-004": "warning", "COH-005": "info", "ENR-001": "critical",
        "ENR-002": "warning", "ENR-003": "critical", "ENR-004": "warning", "SES-001": "warning",
        "SES-002": "critical", "ATD-001": "critical", "ATD-002": "warning", "ATD-003": "critical",
        "CRD-001": "warning", "CRD-002": "critical", "APP-001": "critical", "APP-002": "critical",
    }  # fmt: skip


# --- Students and instructors ----------------------------------------------------------------------------


def test_students_have_names_and_email_reports_blank_fields_of_live_and_deleted_students():
    drop_rule(Student, "first_name_not_blank")
    drop_rule(Student, "email_not_blank")
    nameless = StudentFactory(first_name="   ")
    gone = deleted(StudentFactory(first_name="", email=""))
    StudentFactory()

    issues = check("STU-001")

    assert [issue.details for issue in issues] == [
        {"student_id": nameless.pk, "blank_fields": ["first_name"]},
        {"student_id": gone.pk, "blank_fields": ["first_name", "email"]},
    ]
    assert ids(issues) == [[nameless.pk], [gone.pk]]
    assert is_manual(issues)


def test_student_emails_unique_reports_case_insensitive_duplicates_including_deleted_students():
    drop_rule(Student, "email_unique")
    first = StudentFactory(email="ana@example.org")
    second = deleted(StudentFactory(email="other@example.org"))
    Student.all_objects.filter(pk=second.pk).update(email="ANA@example.org")
    StudentFactory(email="bo@example.org")

    issues = check("STU-002")

    assert ids(issues) == [[first.pk, second.pk]]
    assert issues[0].details == {"email": "ana@example.org", "student_ids": [first.pk, second.pk]}
    assert is_manual(issues)


def test_instructor_emails_unique_reports_case_insensitive_duplicates_including_deleted_instructors():
    drop_rule(Instructor, "email_unique")
    first = deleted(InstructorFactory(email="lee@example.org"))
    second = InstructorFactory(email="other@example.org")
    Instructor.all_objects.filter(pk=second.pk).update(email="Lee@Example.org")

    issues = check("INS-001")

    assert ids(issues) == [[first.pk, second.pk]]
    assert issues[0].details == {"email": "lee@example.org", "instructor_ids": [first.pk, second.pk]}
    assert is_manual(issues)


# --- Cohorts ---------------------------------------------------------------------------------------------


def test_cohorts_end_after_start_reports_live_and_deleted_cohorts():
    drop_rule(Cohort, "end_after_start")
    backwards = CohortFactory(start_date=D(2026, 9, 1), end_date=D(2026, 8, 1))
    gone = deleted(CohortFactory(start_date=D(2026, 9, 1), end_date=D(2026, 8, 31)))
    CohortFactory(start_date=D(2026, 9, 1), end_date=D(2026, 9, 1))

    issues = check("COH-001")

    assert ids(issues) == [[backwards.pk], [gone.pk]]
    assert issues[0].details == {"cohort_id": backwards.pk, "start_date": "2026-09-01", "end_date": "2026-08-01"}
    assert is_manual(issues)


@pytest.fixture
def two_primaries():
    drop_rule(CohortInstructor, "one_primary_instructor")
    cohort = deleted(CohortFactory())  # a critical check: deleted cohorts count too
    later = CohortInstructorFactory(cohort=cohort, is_primary=True)
    earlier = CohortInstructorFactory(cohort=cohort, is_primary=True)
    CohortInstructor.objects.filter(pk=earlier.pk).update(created_at=timezone.now() - datetime.timedelta(days=3))
    return cohort, earlier, later


def test_cohort_primary_instructor_unique_reports_the_primaries_and_keeps_the_earliest(two_primaries):
    cohort, earlier, later = two_primaries

    issues = check("COH-002")

    assert ids(issues) == [[earlier.pk, later.pk]]
    assert issues[0].details == {
        "cohort_id": cohort.pk,
        "assignment_ids": [earlier.pk, later.pk],
        "keep_id": earlier.pk,
        "demote_ids": [later.pk],
    }
    assert issues[0].repair == f"keep assignment #{earlier.pk} (the earliest created) as primary; demote {later.pk}"


def test_cohort_primary_instructor_unique_repair_demotes_the_later_primaries(two_primaries):
    cohort, earlier, later = two_primaries

    run_id = repair(check("COH-002"))

    assert check("COH-002") == []
    assert list(CohortInstructor.objects.filter(cohort=cohort, is_primary=True)) == [earlier]
    assert repair_context(later) == {"source": "repair", "reason": f"integrity repair COH-002 run {run_id}"}


def test_open_cohorts_have_primary_instructor_reports_enrolling_and_active_cohorts_without_one():
    enrolling = CohortFactory(status=CohortStatus.ENROLLING)
    CohortInstructorFactory(cohort=enrolling, is_primary=False)
    active = CohortFactory(status=CohortStatus.ACTIVE)
    CohortInstructorFactory(cohort=active, instructor=deleted(InstructorFactory()), is_primary=True)
    CohortFactory(status=CohortStatus.PLANNED)
    CohortInstructorFactory(cohort=CohortFactory(status=CohortStatus.ACTIVE), is_primary=True)

    issues = check("COH-003")

    assert ids(issues) == [[enrolling.pk], [active.pk]]
    assert issues[0].details == {"cohort_id": enrolling.pk, "status": "enrolling"}
    assert is_manual(issues)


def test_open_cohorts_have_primary_instructor_ignores_deleted_cohorts():
    deleted(CohortFactory(status=CohortStatus.ACTIVE))

    assert check("COH-003") == []


def test_cohorts_within_capacity_reports_seats_over_max_students():
    cohort = CohortFactory(max_students=2)
    EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.ENROLLED)
    EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.IN_PROGRESS)
    EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.COMPLETED, completed_on=D(2026, 11, 20))
    EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.DROPPED)

    issues = check("COH-004")

    assert ids(issues) == [[cohort.pk]]
    assert issues[0].details == {"cohort_id": cohort.pk, "max_students": 2, "seats_taken": 3}
    assert is_manual(issues)


def test_cohorts_within_capacity_ignores_enrollments_of_deleted_students_and_deleted_cohorts():
    cohort = CohortFactory(max_students=1)
    EnrollmentFactory(cohort=cohort)
    EnrollmentFactory(cohort=cohort, student=deleted(StudentFactory()))
    gone = deleted(CohortFactory(max_students=1))
    EnrollmentFactory.create_batch(2, cohort=gone)

    assert check("COH-004") == []


def test_cohort_status_matches_dates_reports_completed_future_and_stale_planned_cohorts():
    completed = CohortFactory(status=CohortStatus.COMPLETED, start_date=D(2026, 8, 1), end_date=D(2026, 10, 2))
    stale = CohortFactory(status=CohortStatus.PLANNED, start_date=D(2026, 8, 31), end_date=D(2026, 11, 20))
    CohortFactory(status=CohortStatus.ENROLLING, start_date=D(2026, 9, 1), end_date=D(2026, 11, 20))  # 30 days
    CohortFactory(status=CohortStatus.COMPLETED, start_date=D(2026, 7, 1), end_date=TODAY)
    deleted(CohortFactory(status=CohortStatus.PLANNED, start_date=D(2026, 1, 5), end_date=D(2026, 3, 27)))

    issues = check("COH-005")

    assert ids(issues) == [[completed.pk], [stale.pk]]
    assert [issue.details["problem"] for issue in issues] == ["ends_after_today", "started_over_30_days_ago"]
    assert is_manual(issues)


# --- Enrollments -----------------------------------------------------------------------------------------


def test_enrollments_unique_per_cohort_reports_duplicate_pairs():
    drop_rule(Enrollment, "one_enrollment_per_cohort")
    first = EnrollmentFactory(student=deleted(StudentFactory()))
    second = EnrollmentFactory(student=first.student, cohort=first.cohort, status=EnrollmentStatus.DROPPED)
    EnrollmentFactory(student=first.student)

    issues = check("ENR-001")

    assert ids(issues) == [[first.pk, second.pk]]
    assert issues[0].details == {
        "student_id": first.student_id,
        "cohort_id": first.cohort_id,
        "enrollment_ids": [first.pk, second.pk],
    }
    assert is_manual(issues)


@pytest.fixture
def cancelled_cohort():
    cohort = CohortFactory(status=CohortStatus.CANCELLED)
    enrolled = EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.ENROLLED)
    in_progress = EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.IN_PROGRESS)
    EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.DROPPED)
    EnrollmentFactory(cohort=cohort, student=deleted(StudentFactory()))
    return cohort, enrolled, in_progress


def test_open_enrollments_not_in_cancelled_cohorts_reports_open_enrollments_of_live_students(cancelled_cohort):
    cohort, enrolled, in_progress = cancelled_cohort

    issues = check("ENR-002")

    assert ids(issues) == [[enrolled.pk, in_progress.pk]]
    assert issues[0].details == {"cohort_id": cohort.pk, "enrollment_ids": [enrolled.pk, in_progress.pk]}
    assert issues[0].repair == "set status deferred (status changed on 2026-10-01)"


def test_open_enrollments_not_in_cancelled_cohorts_repair_defers_them_today(cancelled_cohort):
    cohort, enrolled, in_progress = cancelled_cohort

    run_id = repair(check("ENR-002"))

    assert check("ENR-002") == []
    enrolled.refresh_from_db()
    assert (enrolled.status, enrolled.status_changed_on) == (EnrollmentStatus.DEFERRED, TODAY)
    assert Enrollment.objects.get(pk=in_progress.pk).status == EnrollmentStatus.DEFERRED
    assert repair_context(enrolled) == {"source": "repair", "reason": f"integrity repair ENR-002 run {run_id}"}


def test_open_enrollments_not_in_cancelled_cohorts_ignores_deleted_cohorts():
    cohort = deleted(CohortFactory(status=CohortStatus.CANCELLED))
    EnrollmentFactory(cohort=cohort)

    assert check("ENR-002") == []


@pytest.fixture
def enrollment_date_faults():
    drop_rule(Enrollment, "completed_on_iff_completed")
    drop_rule(Enrollment, "completed_after_enrolled")
    cohort = CohortFactory(start_date=D(2026, 9, 1), end_date=D(2026, 11, 20))
    no_date = EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.COMPLETED, enrolled_on=D(2026, 8, 15))
    late_enrolled = EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.COMPLETED, enrolled_on=D(2026, 12, 1))
    stray = EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.DROPPED, completed_on=D(2026, 10, 1))
    early = EnrollmentFactory(
        cohort=cohort, status=EnrollmentStatus.COMPLETED, enrolled_on=D(2026, 8, 15), completed_on=D(2026, 8, 1)
    )
    return no_date, late_enrolled, stray, early


def test_enrollment_completed_on_matches_status_reports_each_case(enrollment_date_faults):
    no_date, late_enrolled, stray, early = enrollment_date_faults

    issues = check("ENR-003")

    assert ids(issues) == [[no_date.pk], [late_enrolled.pk], [stray.pk], [early.pk]]
    assert [issue.details["problems"] for issue in issues] == [
        ["completed_without_completed_on"],
        ["completed_without_completed_on"],
        ["completed_on_without_completed"],
        ["completed_before_enrolled"],
    ]
    assert [issue.details.get("set_completed_on") for issue in issues] == ["2026-11-20", "2026-12-01", None, None]
    assert [issue.repair for issue in issues] == [
        "set completed_on to 2026-11-20",
        "set completed_on to 2026-12-01",
        None,
        None,
    ]
    assert [issue.fix is None for issue in issues] == [False, False, True, True]


def test_enrollment_completed_on_matches_status_repair_sets_the_missing_dates(enrollment_date_faults):
    no_date, late_enrolled, stray, early = enrollment_date_faults

    run_id = repair([issue for issue in check("ENR-003") if issue.fix])

    assert ids(check("ENR-003")) == [[stray.pk], [early.pk]]
    no_date.refresh_from_db()
    late_enrolled.refresh_from_db()
    assert (no_date.completed_on, late_enrolled.completed_on) == (D(2026, 11, 20), D(2026, 12, 1))
    assert repair_context(no_date) == {"source": "repair", "reason": f"integrity repair ENR-003 run {run_id}"}


def test_open_enrollments_do_not_overlap_reports_students_in_overlapping_open_cohorts():
    student = StudentFactory()
    autumn = EnrollmentFactory(
        student=student, cohort=CohortFactory(start_date=D(2026, 9, 1), end_date=D(2026, 11, 20))
    )
    open_ended = EnrollmentFactory(
        student=student, cohort=CohortFactory(start_date=D(2026, 11, 20), end_date=None), status="in_progress"
    )
    EnrollmentFactory(student=student, cohort=CohortFactory(start_date=D(2026, 3, 2), end_date=D(2026, 5, 22)))
    EnrollmentFactory(student=student, cohort=CohortFactory(start_date=D(2026, 10, 1)), status="dropped")

    issues = check("ENR-004")

    assert ids(issues) == [[autumn.pk, open_ended.pk]]
    assert issues[0].details == {
        "student_id": student.pk,
        "enrollment_ids": [autumn.pk, open_ended.pk],
        "cohort_ids": sorted([autumn.cohort_id, open_ended.cohort_id]),
    }
    assert is_manual(issues)


def test_open_enrollments_do_not_overlap_ignores_deleted_students_and_cohorts():
    student = deleted(StudentFactory())
    EnrollmentFactory(student=student, cohort=CohortFactory(start_date=D(2026, 9, 1)))
    EnrollmentFactory(student=student, cohort=CohortFactory(start_date=D(2026, 9, 8)))
    other = StudentFactory()
    EnrollmentFactory(student=other, cohort=CohortFactory(start_date=D(2026, 9, 1)))
    EnrollmentFactory(student=other, cohort=deleted(CohortFactory(start_date=D(2026, 9, 8))))

    assert check("ENR-004") == []


# --- Sessions and attendance -----------------------------------------------------------------------------


def test_sessions_within_cohort_dates_reports_sessions_before_start_or_after_end():
    cohort = CohortFactory(start_date=D(2026, 9, 1), end_date=D(2026, 11, 20))
    before = ClassSessionFactory(cohort=cohort, date=D(2026, 8, 31))
    after = ClassSessionFactory(cohort=cohort, date=D(2026, 11, 21))
    ClassSessionFactory(cohort=cohort, date=D(2026, 11, 20))
    ClassSessionFactory(cohort=CohortFactory(start_date=D(2026, 9, 1), end_date=None), date=D(2027, 1, 5))

    issues = check("SES-001")

    assert ids(issues) == [[before.pk], [after.pk]]
    assert issues[0].details == {
        "session_id": before.pk,
        "cohort_id": cohort.pk,
        "date": "2026-08-31",
        "cohort_start_date": "2026-09-01",
        "cohort_end_date": "2026-11-20",
    }
    assert is_manual(issues)


def test_sessions_within_cohort_dates_ignores_sessions_of_deleted_cohorts():
    cohort = CohortFactory(start_date=D(2026, 9, 1))
    ClassSessionFactory(cohort=cohort, date=D(2026, 8, 1))
    deleted(cohort)

    assert check("SES-001") == []


def test_sessions_end_after_start_reports_sessions_ending_at_or_before_their_start():
    drop_rule(ClassSession, "end_time_after_start")
    backwards = ClassSessionFactory(start_time=datetime.time(18, 0), end_time=datetime.time(17, 0))
    empty = ClassSessionFactory(start_time=datetime.time(18, 0), end_time=datetime.time(18, 0))
    ClassSessionFactory(start_time=datetime.time(18, 0), end_time=None)

    issues = check("SES-002")

    assert ids(issues) == [[backwards.pk], [empty.pk]]
    assert issues[0].details == {"session_id": backwards.pk, "start_time": "18:00:00", "end_time": "17:00:00"}
    assert is_manual(issues)


def test_attendance_unique_per_session_reports_duplicate_marks():
    drop_rule(Attendance, "one_mark_per_session")
    first = AttendanceFactory()
    second = AttendanceFactory(session=first.session, student=first.student, status=AttendanceStatus.ABSENT)
    AttendanceFactory(session=first.session)

    issues = check("ATD-001")

    assert ids(issues) == [[first.pk, second.pk]]
    assert issues[0].details == {
        "student_id": first.student_id,
        "session_id": first.session_id,
        "attendance_ids": [first.pk, second.pk],
    }
    assert is_manual(issues)


def test_attendance_has_enrollment_reports_marks_without_an_enrollment_in_the_cohort():
    session = ClassSessionFactory()
    stranger = StudentFactory()
    first = AttendanceFactory(session=session, student=stranger)
    second = AttendanceFactory(session=ClassSessionFactory(cohort=session.cohort), student=stranger)
    AttendanceFactory(session=session)

    issues = check("ATD-002")

    assert ids(issues) == [[first.pk, second.pk]]
    assert issues[0].details == {
        "student_id": stranger.pk,
        "cohort_id": session.cohort_id,
        "attendance_ids": [first.pk, second.pk],
    }
    assert is_manual(issues)


def test_attendance_has_enrollment_ignores_deleted_students_and_cohorts():
    session = ClassSessionFactory()
    AttendanceFactory(session=session, student=deleted(StudentFactory()))
    AttendanceFactory(session=ClassSessionFactory(cohort=deleted(CohortFactory())), student=StudentFactory())

    assert check("ATD-002") == []


@pytest.fixture
def stray_minutes():
    drop_rule(Attendance, "minutes_late_only_when_late")
    AttendanceFactory(status=AttendanceStatus.LATE, minutes_late=20)
    return AttendanceFactory(status=AttendanceStatus.PRESENT, minutes_late=10)


def test_minutes_late_only_on_late_marks_reports_minutes_on_other_marks(stray_minutes):
    issues = check("ATD-003")

    assert ids(issues) == [[stray_minutes.pk]]
    assert issues[0].details == {"attendance_id": stray_minutes.pk, "status": "present", "minutes_late": 10}
    assert issues[0].repair == "clear minutes_late"


def test_minutes_late_only_on_late_marks_repair_clears_the_minutes(stray_minutes):
    run_id = repair(check("ATD-003"))

    assert check("ATD-003") == []
    stray_minutes.refresh_from_db()
    assert stray_minutes.minutes_late is None
    assert repair_context(stray_minutes) == {"source": "repair", "reason": f"integrity repair ATD-003 run {run_id}"}


# --- Credentials and JATC applications -------------------------------------------------------------------


@pytest.fixture
def lapsed_credential():
    CredentialFactory(expiration_date=TODAY)
    CredentialFactory(expiration_date=None)
    CredentialFactory(student=deleted(StudentFactory()), issue_date=D(2023, 1, 5), expiration_date=D(2026, 1, 5))
    return CredentialFactory(issue_date=D(2023, 9, 30), expiration_date=D(2026, 9, 30))


def test_active_credentials_not_expired_reports_active_credentials_past_expiry(lapsed_credential):
    issues = check("CRD-001")

    assert ids(issues) == [[lapsed_credential.pk]]
    assert issues[0].details == {
        "credential_id": lapsed_credential.pk,
        "student_id": lapsed_credential.student_id,
        "expiration_date": "2026-09-30",
    }
    assert issues[0].repair == "set status expired"


def test_active_credentials_not_expired_repair_sets_them_expired(lapsed_credential):
    run_id = repair(check("CRD-001"))

    assert check("CRD-001") == []
    lapsed_credential.refresh_from_db()
    assert lapsed_credential.status == CredentialStatus.EXPIRED
    assert repair_context(lapsed_credential) == {
        "source": "repair",
        "reason": f"integrity repair CRD-001 run {run_id}",
    }


def test_credentials_expire_after_issue_reports_expiry_before_issue():
    drop_rule(Credential, "expiration_after_issue")
    backwards = CredentialFactory(
        student=deleted(StudentFactory()), issue_date=D(2026, 3, 2), expiration_date=D(2026, 3, 1)
    )
    CredentialFactory(issue_date=D(2026, 3, 2), expiration_date=D(2026, 3, 2))

    issues = check("CRD-002")

    assert ids(issues) == [[backwards.pk]]
    assert issues[0].details == {
        "credential_id": backwards.pk,
        "issue_date": "2026-03-02",
        "expiration_date": "2026-03-01",
    }
    assert is_manual(issues)


def test_application_dates_after_application_reports_early_interview_and_decision_dates():
    drop_rule(JATCApplication, "interview_after_application")
    drop_rule(JATCApplication, "decision_after_application")
    early_interview = JATCApplicationFactory(application_date=D(2026, 6, 1), interview_date=D(2026, 5, 1))
    both = JATCApplicationFactory(
        application_date=D(2026, 6, 1), interview_date=D(2026, 5, 1), decision_date=D(2026, 5, 2)
    )
    JATCApplicationFactory(application_date=D(2026, 6, 1), interview_date=D(2026, 6, 1), decision_date=D(2026, 6, 1))

    issues = check("APP-001")

    assert ids(issues) == [[early_interview.pk], [both.pk]]
    assert [issue.details["early_fields"] for issue in issues] == [
        ["interview_date"],
        ["interview_date", "decision_date"],
    ]
    assert is_manual(issues)


def test_decided_applications_have_decision_date_reports_decided_applications_without_one():
    drop_rule(JATCApplication, "decision_date_required")
    waitlisted = JATCApplicationFactory(status=ApplicationStatus.WAITLISTED, decision_date=None)
    JATCApplicationFactory(status=ApplicationStatus.INTERVIEWED, decision_date=None)
    JATCApplicationFactory(status=ApplicationStatus.REJECTED, decision_date=D(2026, 7, 1))

    issues = check("APP-002")

    assert ids(issues) == [[waitlisted.pk]]
    assert issues[0].details == {"application_id": waitlisted.pk, "status": "waitlisted"}
    assert is_manual(issues)
