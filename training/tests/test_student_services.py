import datetime as dt
from decimal import Decimal

import pghistory
import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.utils import timezone

from training.factories import (
    CohortFactory,
    CredentialFactory,
    EnrollmentFactory,
    JATCApplicationFactory,
    StudentFactory,
)
from training.models import ApplicationStatus, CohortStatus, Credential, CredentialStatus, Enrollment, EnrollmentStatus
from training.services.students import (
    credential_renew,
    enrollment_change_status,
    enrollment_create,
    jatc_application_advance,
)

pytestmark = pytest.mark.django_db

ENROLLED = dt.date(2026, 8, 15)


@pytest.fixture
def admin_user(make_user):
    return make_user("admin")


@pytest.fixture
def staff_user(make_user):
    return make_user("staff")


def reason_of(row) -> str:
    return row.events.order_by("pgh_id").last().pgh_context["reason"]


# --- enrollment_create ------------------------------------------------------------------------------------


def test_enrollment_create_enrolls_today_with_the_reason():
    student, cohort = StudentFactory(), CohortFactory(status=CohortStatus.ENROLLING)

    with pghistory.context(source="test"):
        enrollment = enrollment_create(student=student, cohort=cohort, notes="referred", reason="walk-in")

    assert (enrollment.status, enrollment.enrolled_on, enrollment.notes) == (
        EnrollmentStatus.ENROLLED,
        timezone.localdate(),
        "referred",
    )
    assert reason_of(enrollment) == "walk-in"


@pytest.mark.parametrize("status", [CohortStatus.CANCELLED, CohortStatus.COMPLETED])
def test_enrollment_create_refuses_a_cancelled_or_completed_cohort(status):
    cohort = CohortFactory(status=status, name="Spring", code="")

    with pytest.raises(ValidationError, match=f"Spring is {status}: it takes no new enrollments."):
        enrollment_create(student=StudentFactory(), cohort=cohort)
    assert not Enrollment.objects.exists()


def test_enrollment_create_counts_enrolled_in_progress_and_completed_against_capacity():
    cohort = CohortFactory(max_students=3, name="Fall", code="")
    EnrollmentFactory(cohort=cohort)
    EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.IN_PROGRESS)
    EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.COMPLETED, completed_on=dt.date(2026, 11, 20))

    with pytest.raises(ValidationError, match="Fall is full: 3 of 3 places are taken."):
        enrollment_create(student=StudentFactory(), cohort=cohort)
    assert cohort.enrollments.count() == 3


def test_enrollment_create_leaves_the_place_of_a_deleted_student_free_as_the_cohort_page_counts():
    cohort = CohortFactory(max_students=1)
    EnrollmentFactory(cohort=cohort, student__deleted_at=timezone.now())

    enrollment = enrollment_create(student=StudentFactory(), cohort=cohort)

    assert enrollment.cohort == cohort


def test_enrollment_create_leaves_places_of_dropped_withdrawn_and_deferred_free():
    cohort = CohortFactory(max_students=1)
    for status in (EnrollmentStatus.DROPPED, EnrollmentStatus.WITHDRAWN, EnrollmentStatus.DEFERRED):
        EnrollmentFactory(cohort=cohort, status=status)

    enrollment = enrollment_create(student=StudentFactory(), cohort=cohort)

    assert enrollment.cohort == cohort


def test_enrollment_create_refuses_a_second_open_enrollment_in_an_overlapping_cohort():
    student = StudentFactory(first_name="Ana", last_name="Ruiz")
    EnrollmentFactory(
        student=student, cohort=CohortFactory(name="Fall", code="", start_date=dt.date(2026, 9, 1),
                                              end_date=dt.date(2026, 11, 20))
    )  # fmt: skip
    winter = CohortFactory(name="Winter", code="", start_date=dt.date(2026, 11, 1), end_date=dt.date(2027, 1, 31))

    with pytest.raises(ValidationError) as refusal:
        enrollment_create(student=student, cohort=winter)

    assert refusal.value.messages == [
        "Ana Ruiz is already enrolled in Fall (2026-09-01 – 2026-11-20), whose dates overlap Winter "
        "(2026-11-01 – 2027-01-31)."
    ]
    assert student.enrollments.count() == 1


def test_enrollment_create_allows_a_later_cohort_and_one_after_leaving_an_overlapping_one():
    student = StudentFactory()
    fall = CohortFactory(start_date=dt.date(2026, 9, 1), end_date=dt.date(2026, 11, 20))
    EnrollmentFactory(student=student, cohort=fall, status=EnrollmentStatus.DEFERRED)
    overlapping = CohortFactory(start_date=dt.date(2026, 10, 1), end_date=dt.date(2026, 12, 20))
    later = CohortFactory(start_date=dt.date(2027, 1, 10), end_date=None)

    enrollment_create(student=student, cohort=overlapping)
    enrollment_create(student=student, cohort=later)

    assert student.enrollments.count() == 3


def test_enrollment_create_refuses_a_cohort_with_an_open_end_overlapping():
    student = StudentFactory()
    EnrollmentFactory(student=student, cohort=CohortFactory(start_date=dt.date(2026, 1, 1), end_date=None))

    with pytest.raises(ValidationError, match="whose dates overlap"):
        enrollment_create(student=student, cohort=CohortFactory(start_date=dt.date(2030, 1, 1), end_date=None))


def test_enrollment_create_refuses_the_same_cohort_twice():
    enrollment = EnrollmentFactory(status=EnrollmentStatus.DROPPED)

    with pytest.raises(ValidationError, match="already has an enrollment in"):
        enrollment_create(student=enrollment.student, cohort=enrollment.cohort)


def test_enrollment_create_refuses_a_deleted_cohort():
    cohort = CohortFactory(deleted_at=timezone.now())

    with pytest.raises(ValidationError, match="This cohort was deleted."):
        enrollment_create(student=StudentFactory(), cohort=cohort)


# --- enrollment_change_status -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "status"),
    [
        ("enrolled", "in_progress"),
        ("enrolled", "dropped"),
        ("enrolled", "withdrawn"),
        ("enrolled", "deferred"),
        ("in_progress", "completed"),
        ("in_progress", "dropped"),
        ("in_progress", "withdrawn"),
        ("in_progress", "deferred"),
    ],
)
def test_enrollment_change_status_makes_the_transitions_of_the_domain(current, status):
    enrollment = EnrollmentFactory(status=current, enrolled_on=ENROLLED)

    with pghistory.context(source="test"):
        changed = enrollment_change_status(enrollment=enrollment, status=status, reason="as planned")

    enrollment.refresh_from_db()
    assert enrollment.status == status == changed.status
    assert enrollment.status_changed_on == timezone.localdate()
    assert reason_of(enrollment) == "as planned"


@pytest.mark.parametrize(
    ("current", "status"),
    [
        ("enrolled", "completed"),
        ("completed", "dropped"),
        ("dropped", "in_progress"),
        ("withdrawn", "enrolled"),
        ("deferred", "in_progress"),
    ],
)
def test_enrollment_change_status_refuses_other_transitions_for_staff(staff_user, current, status):
    completed_on = dt.date(2026, 11, 20) if current == "completed" else None
    enrollment = EnrollmentFactory(status=current, completed_on=completed_on)

    with pytest.raises(ValidationError, match="An enrollment that is .* cannot become"):
        enrollment_change_status(enrollment=enrollment, status=status, reason="please", user=staff_user)
    enrollment.refresh_from_db()
    assert enrollment.status == current


def test_enrollment_change_status_refuses_the_current_status():
    enrollment = EnrollmentFactory()

    with pytest.raises(ValidationError, match="The enrollment is already Enrolled."):
        enrollment_change_status(enrollment=enrollment, status=EnrollmentStatus.ENROLLED)


def test_enrollment_change_status_lets_an_admin_override_only_with_a_reason(admin_user):
    enrollment = EnrollmentFactory(status=EnrollmentStatus.COMPLETED, completed_on=dt.date(2026, 11, 20))

    with pytest.raises(ValidationError, match="An administrator may override this only with a reason."):
        enrollment_change_status(enrollment=enrollment, status=EnrollmentStatus.IN_PROGRESS, user=admin_user)
    with pghistory.context(source="test"):
        enrollment_change_status(
            enrollment=enrollment, status=EnrollmentStatus.IN_PROGRESS, user=admin_user, reason="marked by mistake"
        )

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.completed_on) == (EnrollmentStatus.IN_PROGRESS, None)
    assert reason_of(enrollment) == "marked by mistake"


def test_enrollment_change_status_override_back_into_a_full_cohort_is_refused(admin_user):
    cohort = CohortFactory(max_students=1, name="Fall", code="")
    dropped = EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.DROPPED)
    EnrollmentFactory(cohort=cohort)

    with pytest.raises(ValidationError, match="Fall is full: 1 of 1 places are taken."):
        enrollment_change_status(
            enrollment=dropped, status=EnrollmentStatus.ENROLLED, user=admin_user, reason="came back"
        )


def test_enrollment_change_status_override_refuses_a_second_open_overlapping_enrollment(admin_user):
    student = StudentFactory()
    dropped = EnrollmentFactory(student=student, status=EnrollmentStatus.DROPPED)
    EnrollmentFactory(student=student, cohort=CohortFactory(start_date=dt.date(2026, 10, 1)))

    with pytest.raises(ValidationError, match="whose dates overlap"):
        enrollment_change_status(
            enrollment=dropped, status=EnrollmentStatus.IN_PROGRESS, user=admin_user, reason="came back"
        )


def test_enrollment_complete_sets_the_date_today_by_default_and_the_grade():
    enrollment = EnrollmentFactory(status=EnrollmentStatus.IN_PROGRESS, enrolled_on=ENROLLED)

    enrollment_change_status(enrollment=enrollment, status=EnrollmentStatus.COMPLETED, final_grade=Decimal("92.5"))

    enrollment.refresh_from_db()
    assert (enrollment.completed_on, enrollment.final_grade) == (timezone.localdate(), Decimal("92.5"))


def test_enrollment_complete_refuses_a_date_before_the_enrollment():
    enrollment = EnrollmentFactory(status=EnrollmentStatus.IN_PROGRESS, enrolled_on=ENROLLED)

    with pytest.raises(ValidationError, match="cannot be before the enrollment date 2026-08-15"):
        enrollment_change_status(
            enrollment=enrollment, status=EnrollmentStatus.COMPLETED, completed_on=dt.date(2026, 8, 1)
        )
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.completed_on) == (EnrollmentStatus.IN_PROGRESS, None)


def test_enrollment_complete_refuses_a_grade_over_100_and_writes_nothing():
    enrollment = EnrollmentFactory(status=EnrollmentStatus.IN_PROGRESS, enrolled_on=ENROLLED)

    with pytest.raises(ValidationError, match="Final grade must be between 0 and 100."):
        enrollment_change_status(enrollment=enrollment, status=EnrollmentStatus.COMPLETED, final_grade=Decimal(101))
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.final_grade) == (EnrollmentStatus.IN_PROGRESS, None)


# --- credential_renew -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [CredentialStatus.ACTIVE, CredentialStatus.EXPIRED])
def test_credential_renew_replaces_the_credential(status):
    old = CredentialFactory(status=status, name="OSHA 10", issuing_org="OTI")

    with pghistory.context(source="test"):
        new = credential_renew(
            credential=old,
            issue_date=dt.date(2029, 3, 1),
            expiration_date=dt.date(2032, 3, 1),
            certificate_number="N-1",
            reason="refresher course",
        )

    old.refresh_from_db()
    assert old.status == CredentialStatus.RENEWED
    assert (new.student, new.name, new.issuing_org, new.status, new.replaces, new.certificate_number) == (
        old.student,
        "OSHA 10",
        "OTI",
        CredentialStatus.ACTIVE,
        old,
        "N-1",
    )
    assert reason_of(old) == reason_of(new) == "refresher course"


@pytest.mark.parametrize("status", [CredentialStatus.PENDING, CredentialStatus.REVOKED, CredentialStatus.RENEWED])
def test_credential_renew_refuses_pending_revoked_and_renewed_credentials(status):
    old = CredentialFactory(status=status)

    with pytest.raises(ValidationError, match="credential cannot be renewed"):
        credential_renew(credential=old, issue_date=dt.date(2029, 3, 1))
    assert Credential.objects.count() == 1


def test_credential_renew_refuses_an_issue_date_before_the_old_one():
    old = CredentialFactory(issue_date=dt.date(2026, 3, 2))

    with pytest.raises(ValidationError, match=r"issued 2026-03-02\)"):
        credential_renew(credential=old, issue_date=dt.date(2026, 3, 1))


def test_credential_renew_refuses_an_expiry_before_the_issue_date():
    old = CredentialFactory()

    with pytest.raises(ValidationError, match="The expiration date cannot be before the issue date."):
        credential_renew(credential=old, issue_date=dt.date(2029, 3, 1), expiration_date=dt.date(2029, 1, 1))
    old.refresh_from_db()
    assert old.status == CredentialStatus.ACTIVE


def test_credential_renew_leaves_nothing_half_written_when_the_second_step_fails(monkeypatch):
    old = CredentialFactory()
    original_save = Credential.save

    def failing_save(self, *args, **kwargs):
        if self.pk is None:  # the new credential, written after the old one became renewed
            raise DatabaseError("disk full")
        return original_save(self, *args, **kwargs)

    monkeypatch.setattr(Credential, "save", failing_save)

    with pytest.raises(DatabaseError):
        credential_renew(credential=old, issue_date=dt.date(2029, 3, 1))

    old.refresh_from_db()
    assert old.status == CredentialStatus.ACTIVE
    assert Credential.objects.count() == 1


# --- jatc_application_advance -----------------------------------------------------------------------------


def test_jatc_application_advance_walks_the_whole_path():
    application = JATCApplicationFactory(application_date=dt.date(2026, 6, 1))
    steps = [
        ("submitted", {}),
        ("under_review", {}),
        ("interview_scheduled", {"interview_date": dt.date(2026, 7, 1)}),
        ("interviewed", {}),
        ("waitlisted", {"decision_date": dt.date(2026, 7, 10)}),
        ("accepted", {"decision_date": dt.date(2026, 8, 1)}),
    ]

    for status, dates in steps:
        jatc_application_advance(application=application, status=status, **dates)

    application.refresh_from_db()
    assert (application.status, application.interview_date, application.decision_date) == (
        ApplicationStatus.ACCEPTED,
        dt.date(2026, 7, 1),
        dt.date(2026, 8, 1),
    )


@pytest.mark.parametrize(
    ("current", "status"),
    [("draft", "under_review"), ("submitted", "accepted"), ("interviewed", "submitted"), ("accepted", "withdrawn")],
)
def test_jatc_application_advance_refuses_other_transitions(staff_user, current, status):
    decided = dt.date(2026, 7, 1) if current == "accepted" else None
    application = JATCApplicationFactory(status=current, decision_date=decided)

    with pytest.raises(ValidationError, match="An application that is .* cannot become"):
        jatc_application_advance(
            application=application, status=status, decision_date=dt.date(2026, 7, 1), user=staff_user
        )
    application.refresh_from_db()
    assert application.status == current


@pytest.mark.parametrize("current", ["draft", "submitted", "under_review", "interviewed", "waitlisted"])
def test_jatc_application_advance_withdraws_any_open_application(current):
    decided = dt.date(2026, 7, 1) if current == "waitlisted" else None
    application = JATCApplicationFactory(status=current, decision_date=decided)

    jatc_application_advance(application=application, status=ApplicationStatus.WITHDRAWN, reason="moved away")

    application.refresh_from_db()
    assert application.status == ApplicationStatus.WITHDRAWN


def test_jatc_application_advance_needs_the_interview_date_to_schedule_one():
    application = JATCApplicationFactory(status=ApplicationStatus.UNDER_REVIEW)

    with pytest.raises(ValidationError, match="Scheduling an interview needs the interview date."):
        jatc_application_advance(application=application, status=ApplicationStatus.INTERVIEW_SCHEDULED)


@pytest.mark.parametrize("status", ["accepted", "rejected", "waitlisted"])
def test_jatc_application_advance_needs_the_decision_date_for_a_decision(status):
    application = JATCApplicationFactory(status=ApplicationStatus.INTERVIEWED)

    with pytest.raises(ValidationError, match="needs the decision date"):
        jatc_application_advance(application=application, status=status)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.INTERVIEWED


def test_jatc_application_advance_refuses_a_decision_before_the_application():
    application = JATCApplicationFactory(status=ApplicationStatus.INTERVIEWED, application_date=dt.date(2026, 6, 1))

    with pytest.raises(ValidationError, match="The decision date cannot be before the application date."):
        jatc_application_advance(
            application=application, status=ApplicationStatus.REJECTED, decision_date=dt.date(2026, 5, 1)
        )
    application.refresh_from_db()
    assert (application.status, application.decision_date) == (ApplicationStatus.INTERVIEWED, None)


def test_jatc_application_advance_lets_an_admin_override_with_a_reason(admin_user):
    application = JATCApplicationFactory(status=ApplicationStatus.WITHDRAWN)

    with pytest.raises(ValidationError, match="only with a reason"):
        jatc_application_advance(application=application, status=ApplicationStatus.SUBMITTED, user=admin_user)
    with pghistory.context(source="test"):
        jatc_application_advance(
            application=application, status=ApplicationStatus.SUBMITTED, user=admin_user, reason="withdrawn in error"
        )

    application.refresh_from_db()
    assert application.status == ApplicationStatus.SUBMITTED
    assert reason_of(application) == "withdrawn in error"


def test_enrollment_delete_removes_the_students_marks_in_that_cohort_only():
    from training.factories import AttendanceFactory, ClassSessionFactory, EnrollmentFactory
    from training.models import Attendance

    enrollment = EnrollmentFactory()
    other = EnrollmentFactory(student=enrollment.student)
    mark = AttendanceFactory(student=enrollment.student, session=ClassSessionFactory(cohort=enrollment.cohort))
    kept = AttendanceFactory(student=enrollment.student, session=ClassSessionFactory(cohort=other.cohort))

    enrollment.delete(reason="entered twice")

    assert list(Attendance.objects.values_list("pk", flat=True)) == [kept.pk]
    assert (
        Attendance.pgh_event_model.objects.get(pgh_obj_id=mark.pk, pgh_label="delete").pgh_context["reason"]
        == "entered twice"
    )


def test_enrollment_queryset_delete_removes_the_marks_too():
    from training.factories import AttendanceFactory, ClassSessionFactory, EnrollmentFactory
    from training.models import Attendance, Enrollment

    enrollment = EnrollmentFactory()
    AttendanceFactory(student=enrollment.student, session=ClassSessionFactory(cohort=enrollment.cohort))

    Enrollment.objects.filter(pk=enrollment.pk).delete()

    assert not Attendance.objects.exists()
