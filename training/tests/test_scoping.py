"""visible_to(user) on every training queryset: an instructor sees only their own cohorts and what hangs off them."""

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from training.factories import (
    AttendanceFactory,
    ClassSessionFactory,
    CohortFactory,
    CohortInstructorFactory,
    CredentialFactory,
    EnrollmentFactory,
    InstructorFactory,
    JATCApplicationFactory,
)
from training.models import (
    Attendance,
    ClassSession,
    Cohort,
    CohortInstructor,
    Credential,
    Enrollment,
    Instructor,
    JATCApplication,
    Student,
    limited_to_own_cohorts,
)

pytestmark = pytest.mark.django_db


def cohort_world(label):
    """A cohort with its primary instructor, a session, an enrolled student with a mark, a credential and a
    JATC application; returns the rows by model."""
    cohort = CohortFactory(name=f"Cohort {label}")
    assignment = CohortInstructorFactory(cohort=cohort)
    session = ClassSessionFactory(cohort=cohort, instructor=assignment.instructor)
    enrollment = EnrollmentFactory(cohort=cohort)
    mark = AttendanceFactory(session=session, student=enrollment.student)
    return {
        Cohort: cohort,
        Instructor: assignment.instructor,
        CohortInstructor: assignment,
        ClassSession: session,
        Student: enrollment.student,
        Enrollment: enrollment,
        Attendance: mark,
        Credential: CredentialFactory(student=enrollment.student),
        JATCApplication: JATCApplicationFactory(student=enrollment.student),
    }


SCOPED_MODELS = [
    Cohort,
    Instructor,
    CohortInstructor,
    ClassSession,
    Student,
    Enrollment,
    Attendance,
    Credential,
    JATCApplication,
]


@pytest.fixture
def own():
    return cohort_world("own")


@pytest.fixture
def other():
    return cohort_world("other")


def visible(model, user):
    return set(model.objects.visible_to(user).values_list("pk", flat=True))


def assign_user(user, cohort_rows):
    """Link the user's login to the primary instructor of the cohort."""
    instructor = cohort_rows[Instructor]
    instructor.user = user
    instructor.save(update_fields=["user"])


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_instructor_sees_only_rows_of_own_cohorts(make_user, own, other, model):
    user = make_user("instructor")
    assign_user(user, own)

    assert visible(model, user) == {own[model].pk}


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_instructor_without_cohorts_sees_nothing(make_user, own, other, model):
    user = make_user("instructor")
    InstructorFactory(user=user)  # an instructor record, but no assignment

    assert visible(model, user) == set()


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_instructor_without_an_instructor_record_sees_nothing(make_user, own, other, model):
    user = make_user("instructor")

    assert visible(model, user) == set()


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("role", ["admin", "officer", "staff", "read_only"])
def test_other_roles_see_every_row(make_user, own, other, model, role):
    user = make_user(role)

    assert visible(model, user) == {own[model].pk, other[model].pk}


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_instructor_who_also_holds_staff_sees_every_row(make_user, own, other, model):
    user = make_user("instructor")
    user.groups.add(Group.objects.get(name="staff"))
    assign_user(user, own)

    assert visible(model, user) == {own[model].pk, other[model].pk}


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_superuser_with_the_instructor_role_sees_every_row(make_user, own, other, model):
    user = make_user("instructor", is_superuser=True)
    assign_user(user, own)

    assert visible(model, user) == {own[model].pk, other[model].pk}


def test_organizer_with_the_instructor_role_is_still_limited(make_user, own, other):
    user = make_user("instructor")
    user.groups.add(Group.objects.get(name="organizer"))
    assign_user(user, own)

    assert limited_to_own_cohorts(user)
    assert visible(Cohort, user) == {own[Cohort].pk}


def test_a_deleted_own_cohort_no_longer_counts(make_user, own, other):
    user = make_user("instructor")
    assign_user(user, own)
    own[Cohort].soft_delete(reason="test")

    assert Cohort.all_objects.visible_to(user).count() == 0
    assert visible(ClassSession, user) == set()
    assert visible(Student, user) == set()


def test_a_deleted_instructor_record_loses_its_cohorts(make_user, own, other):
    user = make_user("instructor")
    assign_user(user, own)
    Instructor.objects.filter(pk=own[Instructor].pk).update(deleted_at=timezone.now())

    assert visible(Cohort, user) == set()


def test_instructor_sees_colleagues_assigned_to_own_cohorts(make_user, own, other):
    user = make_user("instructor")
    assign_user(user, own)
    colleague = CohortInstructorFactory(cohort=own[Cohort], is_primary=False).instructor

    assert visible(Instructor, user) == {own[Instructor].pk, colleague.pk}


def test_instructor_sees_a_student_of_own_cohort_whatever_the_enrollment_status(make_user, own, other):
    user = make_user("instructor")
    assign_user(user, own)
    dropped = EnrollmentFactory(cohort=own[Cohort], status="dropped")

    assert visible(Student, user) == {own[Student].pk, dropped.student_id}


def test_instructor_does_not_see_an_own_students_enrollment_in_another_cohort(make_user, own, other):
    user = make_user("instructor")
    assign_user(user, own)
    EnrollmentFactory(cohort=other[Cohort], student=own[Student], status="dropped")

    assert visible(Enrollment, user) == {own[Enrollment].pk}
    assert visible(Student, user) == {own[Student].pk}
