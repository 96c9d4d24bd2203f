import datetime as dt

import pytest
from django.utils import timezone

from training.factories import (
    CohortFactory,
    CohortInstructorFactory,
    CredentialFactory,
    InstructorFactory,
    JATCApplicationFactory,
    StudentFactory,
)
from training.forms.students import (
    CredentialForm,
    EnrollmentCompleteForm,
    EnrollmentCreateForm,
    EnrollmentStatusForm,
    JATCApplicationAdvanceForm,
    JATCApplicationForm,
    StudentConvertForm,
    StudentForm,
)
from training.models import ApplicationStatus, CohortStatus, CredentialStatus

pytestmark = pytest.mark.django_db


def test_student_form_normalises_state_and_email():
    form = StudentForm({"first_name": "Ana", "last_name": "Ruiz", "email": " Ana@Example.ORG ", "state": "wa"})

    assert form.is_valid(), form.errors
    assert (form.cleaned_data["email"], form.cleaned_data["state"]) == ("ana@example.org", "WA")


def test_student_form_refuses_a_malformed_state():
    form = StudentForm({"first_name": "Ana", "last_name": "Ruiz", "email": "ana@example.org", "state": "W1"})

    assert form.errors == {"state": ["Use the two-letter state code, e.g. WA."]}


def test_enrollment_create_form_offers_an_instructor_only_their_open_cohorts(make_user):
    user = make_user("instructor")
    own = CohortFactory(status=CohortStatus.ENROLLING)
    CohortInstructorFactory(cohort=own, instructor=InstructorFactory(user=user))
    CohortFactory(status=CohortStatus.ENROLLING)  # someone else's

    form = EnrollmentCreateForm(user=user)

    assert list(form.fields["cohort"].queryset) == [own]


@pytest.mark.parametrize(("required", "errors"), [(True, {"reason": ["This field is required."]}), (False, {})])
def test_enrollment_status_form_asks_for_a_reason_when_told(required, errors):
    form = EnrollmentStatusForm({"reason": ""}, reason_required=required)

    assert form.errors == errors


def test_enrollment_complete_form_refuses_a_future_date_and_a_grade_over_100():
    tomorrow = timezone.localdate() + dt.timedelta(days=1)

    form = EnrollmentCompleteForm(
        {"completed_on": tomorrow.isoformat(), "final_grade": "100.5"}, reason_required=False
    )

    assert form.errors == {
        "completed_on": ["The completion date cannot be in the future."],
        "final_grade": ["Ensure this value is less than or equal to 100."],
    }


def test_credential_form_offers_a_new_credential_pending_or_active():
    form = CredentialForm(student=StudentFactory())

    assert [value for value, _ in form.fields["status"].choices] == ["pending", "active"]


@pytest.mark.parametrize(
    ("status", "offered"),
    [
        (CredentialStatus.PENDING, ["pending", "active"]),
        (CredentialStatus.ACTIVE, ["active", "expired", "revoked"]),
        (CredentialStatus.RENEWED, ["renewed"]),
    ],
)
def test_credential_form_offers_the_status_changes_of_the_domain(status, offered):
    form = CredentialForm(instance=CredentialFactory(status=status))

    assert [value for value, _ in form.fields["status"].choices] == offered
    assert form.fields["status"].disabled is (len(offered) == 1)


def test_credential_form_refuses_a_status_it_does_not_offer():
    credential = CredentialFactory(status=CredentialStatus.ACTIVE)
    data = {"name": "OSHA 10", "issue_date": "2026-03-02", "status": "renewed"}

    form = CredentialForm(data, instance=credential)

    assert form.errors == {"status": ["Select a valid choice. renewed is not one of the available choices."]}


def test_jatc_application_form_leaves_decisions_out_of_a_new_application():
    form = JATCApplicationForm(student=StudentFactory())

    assert "decision_date" not in form.fields
    assert "interview_date" not in form.fields
    assert form.fields["application_date"].initial() == timezone.localdate()


def test_jatc_application_advance_form_asks_only_for_the_dates_the_next_statuses_need():
    submitted = JATCApplicationAdvanceForm(application=JATCApplicationFactory(status=ApplicationStatus.SUBMITTED))
    reviewed = JATCApplicationAdvanceForm(application=JATCApplicationFactory(status=ApplicationStatus.UNDER_REVIEW))
    interviewed = JATCApplicationAdvanceForm(application=JATCApplicationFactory(status=ApplicationStatus.INTERVIEWED))

    assert list(submitted.fields) == ["status", "reason"]
    assert list(reviewed.fields) == ["status", "interview_date", "reason"]
    assert list(interviewed.fields) == ["status", "decision_date", "reason"]
    assert [value for value, _ in interviewed.fields["status"].choices] == [
        "accepted",
        "rejected",
        "waitlisted",
        "withdrawn",
    ]


def test_jatc_application_advance_form_needs_a_decision_date_for_a_decision():
    application = JATCApplicationFactory(status=ApplicationStatus.INTERVIEWED)

    form = JATCApplicationAdvanceForm({"status": "accepted", "decision_date": ""}, application=application)

    assert form.errors == {"decision_date": ["A decision needs its date."]}


def test_student_convert_form_defaults_and_normalises_the_member_number():
    form = StudentConvertForm({"member_number": " a1234567 ", "classification": "apprentice_1",
                               "join_date": "2026-01-05", "status": "active"})  # fmt: skip

    assert form.is_valid(), form.errors
    assert form.cleaned_data["member_number"] == "A1234567"
    unbound = StudentConvertForm()
    assert (unbound["classification"].initial, unbound["status"].initial) == ("apprentice_1", "active")
    assert unbound["join_date"].initial == timezone.localdate()
