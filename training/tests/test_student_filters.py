import datetime as dt

import pytest
from django.test import RequestFactory
from django.utils import timezone

from training.factories import (
    CohortFactory,
    CredentialFactory,
    EnrollmentFactory,
    JATCApplicationFactory,
    StudentFactory,
)
from training.filters.students import CredentialFilterSet, JATCApplicationFilterSet, StudentFilterSet
from training.models import ApplicationStatus, Credential, EnrollmentStatus, JATCApplication, Student

pytestmark = pytest.mark.django_db


def request_for(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def students(data, user):
    return list(StudentFilterSet(data, Student.all_objects.all(), request=request_for(user)).qs)


def test_student_filter_by_cohort_matches_any_enrollment_status(make_user):
    cohort = CohortFactory()
    dropped = EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.DROPPED).student
    EnrollmentFactory()

    assert students({"cohort": cohort.pk}, make_user("staff")) == [dropped]


def test_student_filter_by_cohort_and_status_matches_that_cohorts_enrollment(make_user):
    cohort = CohortFactory()
    student = EnrollmentFactory(cohort=cohort, status=EnrollmentStatus.DROPPED).student
    EnrollmentFactory(student=student, status=EnrollmentStatus.ENROLLED)  # enrolled elsewhere
    enrolled_here = EnrollmentFactory(cohort=cohort).student

    assert students({"cohort": cohort.pk, "enrollment_status": ["enrolled"]}, make_user("staff")) == [enrolled_here]


def test_student_filter_applicant_means_no_enrollment(make_user):
    applicant = StudentFactory()
    EnrollmentFactory()

    assert students({"enrollment_status": ["applicant"]}, make_user("staff")) == [applicant]


def test_student_filter_lists_each_student_once(make_user):
    student = EnrollmentFactory(status=EnrollmentStatus.DROPPED).student
    EnrollmentFactory(student=student, status=EnrollmentStatus.DROPPED)

    assert students({"enrollment_status": ["dropped", "deferred"]}, make_user("staff")) == [student]


def test_student_filter_deleted_only_for_those_who_may_restore(make_user):
    live = StudentFactory()
    gone = StudentFactory(deleted_at=timezone.now())

    assert students({"deleted": "only"}, make_user("staff")) == [gone]
    assert students({"deleted": "only"}, make_user("officer")) == [live]
    assert students({}, make_user("admin", username="admin2")) == [live]


def test_student_filter_offers_an_instructor_only_their_cohorts(make_user):
    from training.factories import CohortInstructorFactory, InstructorFactory

    user = make_user("instructor")
    own = CohortFactory()
    CohortInstructorFactory(cohort=own, instructor=InstructorFactory(user=user))
    other = CohortFactory()

    filterset = StudentFilterSet({"cohort": other.pk}, Student.all_objects.all(), request=request_for(user))

    assert list(filterset.form.fields["cohort"].queryset) == [own]
    assert not filterset.is_valid()


def test_student_sort_by_name_descending_keeps_pk_last(make_user):
    a = StudentFactory(last_name="Adams", first_name="Zoe")
    b = StudentFactory(last_name="Adams", first_name="Amy")
    c = StudentFactory(last_name="Baker")

    assert students({"sort": "-name"}, make_user("staff")) == [c, a, b]


def test_credential_window_defaults_to_30_days_and_is_inclusive():
    today = timezone.localdate()
    day_30 = CredentialFactory(issue_date=dt.date(2020, 1, 1), expiration_date=today + dt.timedelta(days=30))
    today_ = CredentialFactory(issue_date=dt.date(2020, 1, 1), expiration_date=today)
    CredentialFactory(issue_date=dt.date(2020, 1, 1), expiration_date=today + dt.timedelta(days=31))
    CredentialFactory(expiration_date=None)

    assert list(CredentialFilterSet(None, Credential.objects.all()).qs) == [today_, day_30]


def test_credential_window_of_90_days():
    in_89 = CredentialFactory(issue_date=dt.date(2020, 1, 1), expiration_date=timezone.localdate() + dt.timedelta(89))

    assert list(CredentialFilterSet({"days": "90"}, Credential.objects.all()).qs) == [in_89]


def test_credential_search_by_student_name_or_credential():
    forklift = CredentialFactory(name="Forklift", student__last_name="Ruiz", expiration_date=timezone.localdate())
    CredentialFactory(name="OSHA 10", student__last_name="Lee", expiration_date=timezone.localdate())

    assert list(CredentialFilterSet({"q": "fork"}, Credential.objects.all()).qs) == [forklift]
    assert list(CredentialFilterSet({"q": "ruiz"}, Credential.objects.all()).qs) == [forklift]


def test_jatc_application_filter_by_status_and_student_name():
    ruiz = JATCApplicationFactory(status=ApplicationStatus.SUBMITTED, student__last_name="Ruiz")
    JATCApplicationFactory(status=ApplicationStatus.SUBMITTED, student__last_name="Lee")
    JATCApplicationFactory(status=ApplicationStatus.DRAFT, student__last_name="Ruiz")

    filterset = JATCApplicationFilterSet({"status": ["submitted"], "q": "ru"}, JATCApplication.objects.all())

    assert list(filterset.qs) == [ruiz]
