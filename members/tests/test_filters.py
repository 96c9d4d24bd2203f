import datetime as dt

import pytest
from django.db import connection, transaction
from django.test import RequestFactory

from members.factories import MemberEmploymentFactory, MemberFactory
from members.filters import MemberFilterSet
from members.models import Member, MemberClassification, MemberStatus
from organizations.factories import EmployerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_request(make_user):
    request = RequestFactory().get("/members/")
    request.user = make_user("staff")
    return request


def numbers(data, request, queryset=None):
    filterset = MemberFilterSet(data, queryset=queryset or Member.all_objects.all(), request=request)
    assert filterset.is_valid(), filterset.errors
    return [member.member_number for member in filterset.qs]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a12", ["A1234567"]),  # member number prefix, upper-cased
        ("7654", ["7654321B"]),
        ("ruiz", ["A1234567"]),  # last name prefix, any case
        ("Jo", ["7654321B"]),  # first name prefix
        ("Ana.Ruiz@Example.org", ["A1234567"]),  # email, any case
        ("+1 206", ["7654321B"]),  # phone prefix
        ("ana ruiz", ["A1234567"]),  # first and last name
        ("Ruiz, Ana", ["A1234567"]),  # last, first
        ("zz", []),
    ],
)
def test_member_filter_search_matches_number_name_email_and_phone(staff_request, query, expected):
    MemberFactory(member_number="A1234567", first_name="Ana", last_name="Ruiz", email="ana.ruiz@example.org")
    MemberFactory(member_number="7654321B", first_name="John", last_name="Olsen", phone="+1 206 555 0100")

    assert numbers({"q": query}, staff_request) == expected


def test_member_filter_search_does_not_match_the_middle_of_a_name(staff_request):
    MemberFactory(last_name="Fitzgerald")

    assert numbers({"q": "gerald"}, staff_request) == []


def test_member_filter_status_and_classification_take_several_values(staff_request):
    MemberFactory(member_number="1000001", status=MemberStatus.ACTIVE, classification=MemberClassification.FOREMAN)
    MemberFactory(member_number="1000002", status=MemberStatus.RETIRED, classification=MemberClassification.FOREMAN)
    MemberFactory(member_number="1000003", status=MemberStatus.SUSPENDED, classification=MemberClassification.FOREMAN)
    MemberFactory(member_number="1000004", status=MemberStatus.RETIRED, classification=MemberClassification.RETIREE)

    data = {"status": ["active", "retired"], "classification": ["foreman"], "sort": "number"}

    assert numbers(data, staff_request) == ["1000001", "1000002"]


def test_member_filter_rejects_an_unknown_status(staff_request):
    filterset = MemberFilterSet({"status": ["gone"]}, queryset=Member.objects.all(), request=staff_request)

    assert not filterset.is_valid()


def test_member_filter_employer_matches_the_current_job_by_id_or_name_prefix(staff_request):
    volt = EmployerFactory(name="Volt Electric")
    other = EmployerFactory(name="Amp Works")
    MemberEmploymentFactory(member__member_number="1000001", organization=volt)
    MemberEmploymentFactory(member__member_number="1000002", organization=other)
    past = MemberEmploymentFactory(
        member__member_number="1000003",
        organization=volt,
        start_date=dt.date(2018, 1, 1),
        end_date=dt.date(2019, 1, 1),
    )
    MemberEmploymentFactory(member=past.member, organization=other, start_date=dt.date(2019, 2, 1))

    assert numbers({"employer": str(volt.pk)}, staff_request) == ["1000001"]
    assert numbers({"employer": "volt"}, staff_request) == ["1000001"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("number", ["1000001", "1000002", "1000003"]),
        ("-number", ["1000003", "1000002", "1000001"]),
        ("name", ["1000003", "1000002", "1000001"]),
        ("-name", ["1000001", "1000002", "1000003"]),
        ("classification", ["1000003", "1000001", "1000002"]),
        ("-status", ["1000001", "1000003", "1000002"]),
    ],
)
def test_member_filter_sorts_by_each_column(staff_request, sort, expected):
    MemberFactory(member_number="1000001", last_name="Young", first_name="Al", status=MemberStatus.SUSPENDED,
                  classification=MemberClassification.FOREMAN)  # fmt: skip
    MemberFactory(member_number="1000002", last_name="Adams", first_name="Zoe", status=MemberStatus.ACTIVE,
                  classification=MemberClassification.JOURNEYMAN)  # fmt: skip
    MemberFactory(member_number="1000003", last_name="Adams", first_name="Zack", status=MemberStatus.RETIRED,
                  classification=MemberClassification.APPRENTICE_2)  # fmt: skip

    assert numbers({"sort": sort}, staff_request) == expected


def test_member_filter_sort_ties_fall_back_to_name_then_id(staff_request):
    first = MemberFactory(last_name="Baker", status=MemberStatus.ACTIVE)
    second = MemberFactory(last_name="Baker", first_name=first.first_name, status=MemberStatus.ACTIVE)
    third = MemberFactory(last_name="Abbot", status=MemberStatus.ACTIVE)

    assert numbers({"sort": "status"}, staff_request) == [m.member_number for m in (third, first, second)]


def test_member_filter_hides_deleted_members_by_default(staff_request):
    MemberFactory(member_number="1000001")
    MemberFactory(member_number="1000002").soft_delete(reason="duplicate")

    assert numbers({}, staff_request) == ["1000001"]


def test_member_filter_shows_deleted_members_only_to_those_who_may_restore_them(make_user, staff_request):
    MemberFactory(member_number="1000001")
    MemberFactory(member_number="1000002").soft_delete(reason="duplicate")
    officer_request = RequestFactory().get("/members/")
    officer_request.user = make_user("officer")

    staff_filter = MemberFilterSet({"deleted": "only"}, queryset=Member.all_objects.all(), request=staff_request)

    assert "deleted" not in staff_filter.form.fields
    assert [m.member_number for m in staff_filter.qs] == ["1000001"]
    assert numbers({"deleted": "only"}, officer_request) == ["1000002"]


def test_member_filter_status_and_classification_select_no_distinct(staff_request):
    """They filter the member's own columns, which no join repeats: a DISTINCT would only slow the list (its
    count became a COUNT over a SELECT DISTINCT of every column)."""
    data = {"status": ["active", "retired"], "classification": ["journeyman"]}
    filterset = MemberFilterSet(data, queryset=Member.all_objects.all(), request=staff_request)

    assert filterset.is_valid(), filterset.errors
    assert filterset.qs.query.distinct is False


SEARCH_INDEXES = [
    "member_number_prefix_idx",
    "member_last_name_prefix_idx",
    "member_first_name_prefix_idx",
    "member_email_idx",
    "member_phone_prefix_idx",
]


@pytest.mark.parametrize("query", ["smi", "A1234", "Ruiz, Ana"])
def test_member_filter_search_can_be_answered_from_indexes(staff_request, query):
    """Every column the search matches has an index its lookup can use (prefixes need the pattern operator
    classes), so PostgreSQL answers it from them (a bitmap OR) instead of reading the whole table. The other
    scans are switched off here: on a test-sized table reading everything is always the cheapest."""
    MemberFactory.create_batch(20)
    filterset = MemberFilterSet({"q": query}, queryset=Member.all_objects.all(), request=staff_request)
    # The search alone: with the live-rows condition a bitmap over the live-rows index also qualifies.
    sql, params = filterset.search(Member.all_objects.order_by(), "q", query).query.sql_with_params()

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ANALYZE members_member")
        for scan in ("seqscan", "indexscan", "indexonlyscan"):  # left: bitmap scans, which need a matching index
            cursor.execute(f"SET LOCAL enable_{scan} = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Seq Scan" not in plan
    assert [name for name in SEARCH_INDEXES if name in plan] == SEARCH_INDEXES
