import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from members.factories import MemberEmploymentFactory, MemberFactory
from members.forms import EmploymentAddForm, EmploymentEndForm, EmploymentForm, MemberForm, MemberStatusForm
from members.models import MemberClassification, MemberStatus
from organizations.factories import EmployerFactory

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


def years_ago(years, days=0):
    """The date ``years`` whole years before today, moved ``days`` further back (29 February is skipped)."""
    return today().replace(year=today().year - years) - dt.timedelta(days=days)


def member_data(**fields):
    return {
        "member_number": "1234567",
        "first_name": "Ana",
        "last_name": "Ruiz",
        "status": MemberStatus.ACTIVE,
        "classification": MemberClassification.JOURNEYMAN,
        **fields,
    }


def test_member_form_trims_and_upper_cases_the_member_number():
    form = MemberForm(member_data(member_number="  a1234567 ", state="wa"))

    assert form.is_valid(), form.errors
    member = form.save()
    assert (member.member_number, member.state) == ("A1234567", "WA")


def test_member_form_shows_the_number_format_rule():
    form = MemberForm(member_data(member_number="12-34"))

    assert form.errors == {
        "member_number": ["A member number is 5 to 10 digits, with at most one letter before or after."]
    }


def test_member_form_refuses_the_number_of_a_deleted_member():
    MemberFactory(member_number="A1234567").soft_delete(reason="left")

    form = MemberForm(member_data(member_number="a1234567"))

    assert form.errors["__all__"] == ["A member with this member number already exists (numbers are never reused)."]


def test_member_form_refuses_a_join_date_in_the_future():
    form = MemberForm(member_data(join_date=today() + dt.timedelta(days=1)))

    assert form.errors["join_date"] == ["The join date cannot be in the future."]


@pytest.mark.skipif(today().month == 2 and today().day == 29, reason="no anniversary on 29 February")
@pytest.mark.parametrize(
    ("born", "error"),
    [
        (lambda: years_ago(16, days=-1), ["A member must be at least 16 years old."]),
        (lambda: years_ago(16), None),
        (lambda: years_ago(110), None),
        (lambda: years_ago(111), ["This date of birth gives an age over 110; check it."]),
    ],
    ids=["just-under-16", "16", "110", "111"],
)
def test_member_form_checks_the_age_from_the_date_of_birth(born, error):
    form = MemberForm(member_data(date_of_birth=born()))

    assert form.errors.get("date_of_birth") == error


def test_member_form_leaves_the_status_to_its_own_page_when_editing():
    member = MemberFactory()

    assert "status" in MemberForm().fields
    assert "status" not in MemberForm(instance=member).fields


@pytest.mark.parametrize("status", [MemberStatus.SUSPENDED, MemberStatus.DECEASED])
def test_member_status_form_requires_a_reason_for_suspended_and_deceased(status):
    form = MemberStatusForm({"status": status, "reason": " "}, member=MemberFactory())

    assert form.errors["reason"] == [f"A reason is required to set the status to {MemberStatus(status).label}."]


def test_member_status_form_needs_no_reason_for_retired():
    form = MemberStatusForm({"status": MemberStatus.RETIRED}, member=MemberFactory())

    assert form.is_valid(), form.errors


def test_member_status_form_offers_the_job_end_date_only_with_a_current_job():
    employed = MemberEmploymentFactory().member

    assert "ended_on" in MemberStatusForm(member=employed).fields
    assert "ended_on" not in MemberStatusForm(member=MemberFactory()).fields


def test_member_status_form_does_not_offer_the_current_status():
    form = MemberStatusForm(member=MemberFactory(status=MemberStatus.INACTIVE))

    assert [value for value, _ in form.fields["status"].choices] == ["active", "suspended", "retired", "deceased"]


def employment_data(**fields):
    return {"organization": EmployerFactory().pk, "start_date": "2021-03-01", "job_title": "Foreman", **fields}


def test_employment_form_refuses_an_end_date_after_today():
    job = MemberEmploymentFactory()

    form = EmploymentForm(employment_data(end_date=today() + dt.timedelta(days=1)), instance=job)

    assert form.errors["end_date"] == ["The end date cannot be after today."]


def test_employment_form_shows_the_end_before_start_rule():
    job = MemberEmploymentFactory()

    form = EmploymentForm(employment_data(start_date="2021-03-01", end_date="2021-02-01"), instance=job)

    assert form.errors["__all__"] == ["The end date cannot be before the start date."]


def test_employment_form_refuses_dates_overlapping_another_job():
    job = MemberEmploymentFactory(start_date=dt.date(2020, 1, 6))
    past = MemberEmploymentFactory(member=job.member, start_date=dt.date(2018, 1, 1), end_date=dt.date(2018, 12, 31))

    form = EmploymentForm(employment_data(start_date="2018-06-01", end_date="2019-01-31"), instance=job)

    assert form.errors["__all__"] == [f"These dates overlap another job of this member: {past}."]


def test_employment_form_may_keep_its_own_dates():
    job = MemberEmploymentFactory(start_date=dt.date(2020, 1, 6))

    form = EmploymentForm(employment_data(organization=job.organization_id, start_date="2020-01-06"), instance=job)

    assert form.is_valid(), form.errors


def test_employment_form_has_no_is_current_field():
    assert "is_current" not in EmploymentForm(instance=MemberEmploymentFactory()).fields


def test_employment_form_keeps_a_deleted_organization_of_the_job_selectable():
    job = MemberEmploymentFactory(start_date=dt.date(2020, 1, 6), end_date=dt.date(2020, 12, 31))
    job.organization.soft_delete(reason="closed")
    gone = EmployerFactory()
    gone.soft_delete(reason="closed")

    choices = EmploymentForm(instance=job).fields["organization"].queryset

    assert job.organization in choices
    assert gone not in choices


@pytest.mark.parametrize(
    ("rate", "warned"),
    [("9.99", True), ("10.00", False), ("150.00", False), ("150.01", True), ("", False)],
)
def test_employment_form_warns_about_an_unusual_hourly_rate(rate, warned):
    form = EmploymentAddForm(employment_data(hourly_rate=rate), member=MemberFactory())

    assert form.is_valid(), form.errors
    assert bool(form.rate_warning()) is warned


def test_employment_add_form_offers_to_end_the_current_job_on_the_day_before():
    current = MemberEmploymentFactory()

    form = EmploymentAddForm(employment_data(start_date="2024-03-01"), member=current.member)

    assert form.fields["end_current"].initial is True
    assert form.fields["end_current"].label == (
        f"End the current job at {current.organization} (since 2020-01-06) on 2024-02-29, the day before the new job "
        "starts"
    )


def test_employment_add_form_has_no_end_choice_without_a_current_job():
    form = EmploymentAddForm(employment_data(), member=MemberFactory())

    assert "end_current" not in form.fields


def test_employment_add_form_hands_its_values_to_the_service():
    member = MemberEmploymentFactory().member
    data = employment_data(hourly_rate="31.50")

    form = EmploymentAddForm(data, member=member)

    assert form.is_valid(), form.errors
    kwargs = form.service_kwargs()
    assert (kwargs["member"], kwargs["organization"].pk, kwargs["start_date"]) == (
        member,
        data["organization"],
        dt.date(2021, 3, 1),
    )
    assert (kwargs["hourly_rate"], kwargs["end_current"]) == (Decimal("31.50"), False)


def test_employment_end_form_defaults_to_today():
    assert EmploymentEndForm().fields["end_date"].initial() == today()
