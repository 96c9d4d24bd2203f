"""The members data layer holds DOMAIN.md §4.2: every [DB] rule is enforced by PostgreSQL and shown by forms."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.forms import modelform_factory

from ip2a.tests.database_rules import (
    constraint,
    constraint_messages,
    form_messages,
    index_definition,
    message,
    violates,
)
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member, MemberEmployment, MemberStatus
from organizations.factories import EmployerFactory

pytestmark = pytest.mark.django_db

MODELS = [Member, MemberEmployment]
START = datetime.date(2020, 1, 6)


MEMBER_FIELDS = ["member_number", "first_name", "last_name", "status", "classification"]
EMPLOYMENT_FIELDS = ["member", "organization", "start_date", "end_date", "job_title", "hourly_rate"]


def member_data(**overrides):
    return {
        "member_number": "7654321",
        "first_name": "Ana",
        "last_name": "Ruiz",
        "status": "active",
        "classification": "journeyman",
        **overrides,
    }


def employment_data(member, **overrides):
    return {
        "member": member.pk,
        "organization": EmployerFactory().pk,
        "start_date": "2024-02-01",
        "end_date": "",
        "job_title": "Inside wireman",
        "hourly_rate": "52.50",
        **overrides,
    }


# --- Declarations ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model_constraint", [(m, c) for m in MODELS for c in m._meta.constraints], ids=lambda mc: mc[1].name
)
def test_constraint_is_named_by_house_rule_and_declares_a_sentence(model_constraint):
    model, rule = model_constraint

    assert rule.name.startswith(f"{model._meta.app_label}_{model._meta.model_name}_")
    assert rule.violation_error_message != rule.default_violation_error_message
    assert rule.violation_error_message[0].isupper()
    assert rule.violation_error_message.endswith(".")


# member_number needs no separate non-blank check: number_format already rejects a blank number.
@pytest.mark.parametrize(
    ("model", "field"),
    [
        (m, f.name)
        for m in MODELS
        for f in m._meta.concrete_fields
        if isinstance(f, models.CharField) and not f.blank and not f.choices and f.name != "member_number"
    ],
)
def test_required_text_field_has_a_not_blank_check(model, field):
    assert constraint(model, f"{field}_not_blank")


@pytest.mark.parametrize(
    ("model", "field", "target", "on_delete", "related_name"),
    [
        (Member, "student", "training.Student", models.PROTECT, "member"),
        (MemberEmployment, "member", "members.Member", models.CASCADE, "employments"),
        (MemberEmployment, "organization", "organizations.Organization", models.PROTECT, "employments"),
    ],
)
def test_relation_is_declared_as_in_the_domain(model, field, target, on_delete, related_name):
    relation = model._meta.get_field(field)

    assert relation.related_model._meta.label == target
    assert relation.remote_field.on_delete is on_delete
    assert relation.remote_field.related_name == related_name


def test_member_student_link_is_one_to_one_and_optional():
    field = Member._meta.get_field("student")

    assert field.one_to_one
    assert field.null


def test_member_field_types_follow_the_domain():
    assert Member._meta.get_field("member_number").max_length == 12
    assert Member._meta.get_field("status").default == MemberStatus.ACTIVE
    assert not Member._meta.get_field("classification").has_default()


def test_employment_field_types_follow_the_domain():
    rate = MemberEmployment._meta.get_field("hourly_rate")

    assert isinstance(rate, models.DecimalField)
    assert (rate.max_digits, rate.decimal_places) == (7, 2)
    assert MemberEmployment._meta.get_field("job_title").max_length == 100
    assert not MemberEmployment._meta.get_field("is_current").editable


@pytest.mark.parametrize(
    ("name", "ending"),
    [
        ("member_name_upper_idx", "USING btree (upper((last_name)::text), upper((first_name)::text))"),
        ("member_status_class_idx", "USING btree (status, classification)"),
        ("employment_member_start_idx", "USING btree (member_id, start_date)"),
        ("employment_org_current_idx", "USING btree (organization_id) WHERE is_current"),
        ("members_memberemployment_one_current_job", "USING btree (member_id) WHERE is_current"),
        ("members_member_member_number_unique", "USING btree (member_number)"),
    ],
)
def test_domain_index_exists_in_the_database(name, ending):
    assert index_definition(name).endswith(ending)


def test_the_member_table_is_vacuumed_after_a_hundredth_of_it_changes():
    # Keeps its pages all-visible for the member list's index-only scans (members/migrations/0006).
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE oid = 'members_member'::regclass")
        (options,) = cursor.fetchone()
    assert sorted(options) == ["autovacuum_vacuum_insert_scale_factor=0.01", "autovacuum_vacuum_scale_factor=0.01"]


# --- Member: member number -------------------------------------------------------------------------------


def test_duplicate_member_number_is_rejected_by_the_database():
    MemberFactory(member_number="7654321")

    with violates("members_member_member_number_unique"):
        Member.objects.bulk_create([MemberFactory.build(member_number="7654321")])


def test_member_number_of_a_deleted_member_is_rejected_by_the_database():
    MemberFactory(member_number="7654321").soft_delete(reason="left the Local")

    with violates("members_member_member_number_unique"):
        Member.objects.bulk_create([MemberFactory.build(member_number="7654321")])


def test_duplicate_member_number_shows_the_message_in_the_form():
    MemberFactory(member_number="7654321")

    errors = form_messages(Member, MEMBER_FIELDS, member_data(member_number="7654321"))

    assert message(Member, "member_number_unique") in errors


def test_member_number_of_a_deleted_member_shows_the_message_in_the_form():
    MemberFactory(member_number="7654321").soft_delete(reason="left the Local")

    errors = form_messages(Member, MEMBER_FIELDS, member_data(member_number="7654321"))

    assert message(Member, "member_number_unique") in errors


def test_editing_a_member_keeps_its_own_number_valid():
    member = MemberFactory(member_number="7654321")

    form = modelform_factory(Member, fields=MEMBER_FIELDS)(data=member_data(first_name="Ana"), instance=member)

    assert form.is_valid(), form.errors


@pytest.mark.parametrize("number", ["12345", "A1234567", "1234567B", "1234567890"])
def test_member_number_in_an_allowed_format_is_stored(number):
    member = MemberFactory(member_number=number)

    assert Member.objects.get(pk=member.pk).member_number == number


@pytest.mark.parametrize("number", ["1234", "12345678901", "AB12345", "12345AB", "1234567b", "12-345", ""])
def test_member_number_in_another_format_is_rejected_by_the_database(number):
    member = MemberFactory()

    with violates("members_member_number_format"):
        Member.objects.filter(pk=member.pk).update(member_number=number)


@pytest.mark.parametrize("number", ["1234", "12345678901", "AB12345", "12345AB"])
def test_member_number_in_another_format_shows_the_message_in_the_form(number):
    errors = form_messages(Member, MEMBER_FIELDS, member_data(member_number=number))

    assert message(Member, "number_format") in errors


@pytest.mark.parametrize(("typed", "stored"), [("a1234567", "A1234567"), (" 1234567b ", "1234567B")])
def test_member_number_is_trimmed_and_upper_cased_by_save(typed, stored):
    member = MemberFactory(member_number=typed)

    member.refresh_from_db()
    assert member.member_number == stored


def test_member_number_with_two_letters_is_rejected_after_upper_casing():
    with violates("members_member_number_format"):
        MemberFactory(member_number="12345ab")


def test_lower_case_member_number_is_accepted_by_the_form():
    form = modelform_factory(Member, fields=MEMBER_FIELDS)(data=member_data(member_number="a1234567"))

    assert form.is_valid(), form.errors


# --- Member: other rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), [("status", "dead"), ("classification", "apprentice_6")])
def test_unknown_member_choice_is_rejected_by_the_database(field, value):
    member = MemberFactory()

    with violates(f"members_member_{field}_valid"):
        Member.objects.filter(pk=member.pk).update(**{field: value})


@pytest.mark.parametrize(("field", "value"), [("status", "dead"), ("classification", "apprentice_6")])
def test_unknown_member_choice_shows_the_message(field, value):
    member = MemberFactory.build(**{field: value})

    assert message(Member, f"{field}_valid") in constraint_messages(member, full_clean=False)


@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_blank_member_name_is_rejected_by_the_database(field):
    member = MemberFactory()

    with violates(f"members_member_{field}_not_blank"):
        Member.objects.filter(pk=member.pk).update(**{field: "   "})


@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_blank_member_name_shows_the_message(field):
    member = MemberFactory.build(**{field: "   "})

    assert message(Member, f"{field}_not_blank") in constraint_messages(member)


# --- MemberEmployment ------------------------------------------------------------------------------------


def test_employment_ending_before_it_starts_is_rejected_by_the_database():
    employment = MemberEmploymentFactory(start_date=START)

    with violates("members_memberemployment_end_after_start"):
        MemberEmployment.objects.filter(pk=employment.pk).update(
            end_date=START - datetime.timedelta(days=1), is_current=False
        )


def test_employment_ending_before_it_starts_shows_the_message_in_the_form():
    errors = form_messages(
        MemberEmployment,
        EMPLOYMENT_FIELDS,
        employment_data(MemberFactory(), start_date="2024-02-01", end_date="2024-01-31"),
    )

    assert message(MemberEmployment, "end_after_start") in errors


def test_employment_ending_on_its_start_day_is_accepted():
    employment = MemberEmploymentFactory(start_date=START, end_date=START)

    assert not employment.is_current


@pytest.mark.parametrize(
    "change",
    [{"is_current": False}, {"end_date": datetime.date(2099, 1, 1)}],
    ids=["open-but-not-current", "ended-in-the-future-but-current"],
)
def test_is_current_disagreeing_with_end_date_is_rejected_by_the_database(change):
    employment = MemberEmploymentFactory(start_date=START)

    with violates("members_memberemployment_current_iff_open"):
        MemberEmployment.objects.filter(pk=employment.pk).update(**change)


def test_is_current_disagreeing_with_end_date_shows_the_message():
    employment = MemberEmploymentFactory.build(
        member=MemberFactory(), organization=EmployerFactory(), end_date=None, is_current=False
    )

    assert message(MemberEmployment, "current_iff_open") in constraint_messages(employment, full_clean=False)


def test_full_clean_derives_is_current_from_the_end_date():
    employment = MemberEmploymentFactory.build(
        member=MemberFactory(),
        organization=EmployerFactory(),
        start_date=datetime.date(2020, 1, 1),
        end_date=datetime.date(2021, 1, 1),
    )

    employment.full_clean()

    assert employment.is_current is False


def test_full_clean_refuses_an_end_date_after_today_and_still_derives_is_current():
    employment = MemberEmploymentFactory.build(
        member=MemberFactory(), organization=EmployerFactory(), end_date=datetime.date(2099, 1, 1)
    )

    with pytest.raises(ValidationError) as refused:
        employment.full_clean()

    assert refused.value.message_dict == {"end_date": ["The end date cannot be after today."]}
    assert employment.is_current is False


def test_full_clean_refuses_dates_overlapping_another_job_of_the_member():
    job = MemberEmploymentFactory(start_date=datetime.date(2020, 1, 1), end_date=datetime.date(2020, 12, 31))
    overlapping = MemberEmploymentFactory.build(
        member=job.member,
        organization=job.organization,
        start_date=datetime.date(2020, 6, 1),
        end_date=datetime.date(2021, 1, 31),
    )

    with pytest.raises(ValidationError, match="overlap another job of this member"):
        overlapping.full_clean()


def test_second_current_job_is_rejected_by_the_database():
    current = MemberEmploymentFactory()

    with violates("members_memberemployment_one_current_job"):
        MemberEmployment.objects.bulk_create(
            [MemberEmploymentFactory.build(member=current.member, organization=current.organization)]
        )


def test_second_current_job_shows_the_message():
    current = MemberEmploymentFactory()
    second = MemberEmploymentFactory.build(member=current.member, organization=EmployerFactory())

    assert message(MemberEmployment, "one_current_job") in constraint_messages(second)


def test_second_current_job_shows_the_message_in_a_model_form():
    current = MemberEmploymentFactory()

    errors = form_messages(MemberEmployment, EMPLOYMENT_FIELDS, employment_data(current.member))

    assert message(MemberEmployment, "one_current_job") in errors


def test_past_jobs_do_not_count_against_the_current_one():
    member = MemberFactory()
    MemberEmploymentFactory(member=member, start_date=datetime.date(2018, 1, 1), end_date=datetime.date(2019, 1, 1))
    MemberEmploymentFactory(member=member, start_date=datetime.date(2019, 2, 1), end_date=datetime.date(2019, 12, 1))

    current = MemberEmploymentFactory(member=member)

    assert list(member.employments.current()) == [current]


@pytest.mark.parametrize("rate", [Decimal("0.00"), Decimal("-12.50")])
def test_non_positive_hourly_rate_is_rejected_by_the_database(rate):
    employment = MemberEmploymentFactory()

    with violates("members_memberemployment_hourly_rate_positive"):
        MemberEmployment.objects.filter(pk=employment.pk).update(hourly_rate=rate)


@pytest.mark.parametrize("rate", ["0", "-12.50"])
def test_non_positive_hourly_rate_shows_the_message_in_the_form(rate):
    errors = form_messages(MemberEmployment, EMPLOYMENT_FIELDS, employment_data(MemberFactory(), hourly_rate=rate))

    assert message(MemberEmployment, "hourly_rate_positive") in errors


def test_employment_form_with_valid_data_saves_a_current_job():
    form = modelform_factory(MemberEmployment, fields=EMPLOYMENT_FIELDS)(data=employment_data(MemberFactory()))

    assert form.is_valid(), form.errors
    assert form.save().is_current


# --- Derived values --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("middle_name", "full_name"), [("", "Ana Ruiz"), ("María", "Ana María Ruiz")], ids=["no-middle", "middle"]
)
def test_member_full_name_joins_the_name_parts(middle_name, full_name):
    member = MemberFactory.build(first_name="Ana", middle_name=middle_name, last_name="Ruiz")

    assert member.full_name == full_name


@pytest.mark.parametrize("status", MemberStatus.values)
def test_member_is_active_only_with_status_active(status):
    assert MemberFactory.build(status=status).is_active is (status == MemberStatus.ACTIVE)


def test_member_classification_has_no_default_but_status_defaults_to_active():
    member = Member(member_number="12345", first_name="Ana", last_name="Ruiz")

    assert member.status == MemberStatus.ACTIVE
    assert member.classification == ""


def test_member_current_employment_is_the_open_job():
    member = MemberFactory()
    MemberEmploymentFactory(member=member, start_date=datetime.date(2018, 1, 1), end_date=datetime.date(2019, 1, 1))
    current = MemberEmploymentFactory(member=member, start_date=datetime.date(2019, 2, 1))

    assert member.current_employment == current


def test_member_current_employment_is_none_with_only_past_jobs():
    member = MemberFactory()
    MemberEmploymentFactory(member=member, start_date=datetime.date(2018, 1, 1), end_date=datetime.date(2019, 1, 1))

    assert member.current_employment is None
    assert Member.objects.for_list().get(pk=member.pk).current_employment is None


def test_member_current_employment_costs_one_query_per_member_without_for_list(django_assert_num_queries):
    jobs = [MemberEmploymentFactory() for _ in range(3)]

    with django_assert_num_queries(4):  # the members, then one per member
        employers = [member.current_employment.organization for member in Member.objects.all()]

    assert sorted(org.pk for org in employers) == sorted(job.organization_id for job in jobs)


def test_member_current_employment_is_prefetched_by_for_list(django_assert_num_queries):
    jobs = [MemberEmploymentFactory() for _ in range(3)]

    with django_assert_num_queries(2):  # the members, then their current jobs with the organizations
        employers = [member.current_employment.organization for member in Member.objects.for_list()]

    assert sorted(org.pk for org in employers) == sorted(job.organization_id for job in jobs)


def test_the_database_refuses_to_give_a_job_another_member():
    from django.db import ProgrammingError, transaction

    job = MemberEmploymentFactory()
    other = MemberFactory()

    with pytest.raises(ProgrammingError, match="Cannot update rows"), transaction.atomic():
        MemberEmployment.objects.filter(pk=job.pk).update(member=other)

    job.refresh_from_db()
    assert job.member_id != other.pk
    MemberEmployment.objects.filter(pk=job.pk).update(job_title="Foreman")  # the job's other fields still change
