"""Admin of the training program: query budgets of the big changelists, labels that need joins."""

import pytest
from django.urls import reverse

from training.factories import (
    AttendanceFactory,
    ClassSessionFactory,
    CohortFactory,
    EnrollmentFactory,
    StudentFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("admin", is_staff=True))
    return client


def test_student_changelist_within_query_budget(admin_client, django_assert_max_num_queries):
    StudentFactory.create_batch(30)

    # session, user, user and group permissions, count, full count, page, session renewal (3) + 1 spare
    with django_assert_max_num_queries(11):
        response = admin_client.get(reverse("admin:training_student_changelist"))

    assert len(response.context["cl"].result_list) == 30


def test_enrollment_changelist_within_query_budget(admin_client, django_assert_max_num_queries):
    for cohort in CohortFactory.create_batch(3):
        EnrollmentFactory.create_batch(10, cohort=cohort)

    # session, user, user and group permissions, count, full count, page (students and cohorts joined),
    # session renewal (3) + 1 spare
    with django_assert_max_num_queries(11):
        response = admin_client.get(reverse("admin:training_enrollment_changelist"))

    assert len(response.context["cl"].result_list) == 30


def test_attendance_changelist_within_query_budget(admin_client, django_assert_max_num_queries):
    for session in ClassSessionFactory.create_batch(3):
        AttendanceFactory.create_batch(10, session=session)

    # session, user, user and group permissions, count probe, count, page (sessions, cohorts and students
    # joined), session renewal (3) + 1 spare
    with django_assert_max_num_queries(11):
        response = admin_client.get(reverse("admin:training_attendance_changelist"))

    assert len(response.context["cl"].result_list) == 30


def test_attendance_event_changelist_within_query_budget(admin_client, django_assert_max_num_queries):
    for session in ClassSessionFactory.create_batch(3):
        AttendanceFactory.create_batch(10, session=session)

    # session, user, user and group permissions, count probe, count, page, marks, students, sessions,
    # cohorts, session renewal (3) + 1 spare
    with django_assert_max_num_queries(15):
        response = admin_client.get(reverse("admin:training_attendanceevent_changelist"))

    assert len(response.context["cl"].result_list) == 30


def test_class_session_autocomplete_labels_sessions_within_query_budget(admin_client, django_assert_max_num_queries):
    ClassSessionFactory.create_batch(20, topic="Conduit bending")

    # session, user, user and group permissions, count, page (cohorts joined), session renewal (3) + 1 spare
    with django_assert_max_num_queries(10):
        response = admin_client.get(
            reverse("admin:autocomplete"),
            {"app_label": "training", "model_name": "attendance", "field_name": "session", "term": "Conduit"},
        )

    assert len(response.json()["results"]) == 20


def test_admin_soft_delete_of_a_running_cohort_with_open_enrollments_is_refused(admin_client):
    from django.contrib.admin import helpers

    from training.models import Cohort, CohortStatus

    cohort = EnrollmentFactory(cohort__status=CohortStatus.ACTIVE).cohort

    response = admin_client.post(
        reverse("admin:training_cohort_changelist"),
        {
            "action": "soft_delete_selected",
            "index": "0",
            helpers.ACTION_CHECKBOX_NAME: [cohort.pk],
            "reason": "Closed",
            "confirm": "1",
        },
        follow=True,
    )

    assert Cohort.objects.filter(pk=cohort.pk).exists()
    [message] = [str(message) for message in response.context["messages"]]
    assert message.startswith(f"{cohort}: This active cohort has 1 open enrollment(s)")
