import datetime
from decimal import Decimal

import pytest

import members.integrity  # noqa: F401  (registers the checks)
from attachments.factories import AttachmentFactory
from attachments.models import Attachment
from ip2a.integrity import CHECKS, CheckContext, apply_repairs, run_check
from ip2a.tests.database_rules import drop_rule, execute, last_event
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member, MemberEmployment, MemberStatus
from organizations.factories import EmployerFactory
from organizations.models import Organization

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 6, 15)
RUN_ID = 4343
CHECK_IDS = [
    *(f"MEM-00{n}" for n in range(1, 10)),
    *(f"EMP-00{n}" for n in range(1, 9)),
]
D = datetime.date


def check(check_id, today=TODAY):
    return run_check(CHECKS[check_id], CheckContext(today=today))


def repair_context(event):
    return {"source": event.pgh_context["source"], "reason": event.pgh_context["reason"]}


def repaired_by(check_id):
    return {"source": "repair", "reason": f"integrity repair {check_id} run {RUN_ID}"}


def job(member, start, end=None, **fields):
    fields.setdefault("hourly_rate", Decimal("42.50"))
    return MemberEmploymentFactory(member=member, start_date=start, end_date=end, **fields)


def deleted_member(**fields):
    member = MemberFactory(**fields)
    member.soft_delete(reason="left the Local")
    return member


@pytest.fixture
def clean_data():
    member = MemberFactory(date_of_birth=D(1980, 5, 1), join_date=TODAY)
    job(member, D(2018, 1, 1), D(2020, 12, 31))
    job(member, D(2021, 1, 1), TODAY)  # ends today, not in the future
    job(member, D(2026, 6, 16))  # open and starting after today: no overlap yet
    retired = MemberFactory(status=MemberStatus.RETIRED, member_number="A12345")
    job(retired, D(2000, 1, 1), D(2019, 6, 30), hourly_rate=None)
    MemberFactory(status=MemberStatus.INACTIVE, member_number="123456B")
    return member


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_checks_find_nothing_in_clean_data(clean_data, check_id):
    assert check(check_id) == []


# MEM-001


def test_members_have_number_and_names_reports_blank_fields_of_deleted_member():
    member = deleted_member()
    drop_rule(Member, "first_name_not_blank")
    drop_rule(Member, "number_format")
    Member.all_objects.filter(pk=member.pk).update(first_name=" ", member_number="")

    [issue] = check("MEM-001")

    assert (issue.object_ids, issue.details, issue.repair, issue.fix) == (
        [member.pk],
        {"member_id": member.pk, "fields": ["member_number", "first_name"]},
        None,
        None,
    )


# MEM-002


def test_member_statuses_are_valid_sets_deleted_member_inactive():
    member = deleted_member()
    drop_rule(Member, "status_valid")
    Member.all_objects.filter(pk=member.pk).update(status="Active")

    [issue] = check("MEM-002")
    assert (issue.object_ids, issue.details, issue.repair) == (
        [member.pk],
        {"member_id": member.pk, "status": "Active"},
        "set status to inactive",
    )
    apply_repairs([issue], run_id=RUN_ID)

    assert Member.all_objects.get(pk=member.pk).status == MemberStatus.INACTIVE
    assert check("MEM-002") == []
    assert repair_context(last_event(Member, member.pk)) == repaired_by("MEM-002")


# MEM-003


def test_member_classifications_are_valid_reports_unknown_value():
    member = MemberFactory()
    drop_rule(Member, "classification_valid")
    Member.all_objects.filter(pk=member.pk).update(classification="master")

    [issue] = check("MEM-003")

    assert (issue.object_ids, issue.details, issue.repair, issue.fix) == (
        [member.pk],
        {"member_id": member.pk, "classification": "master"},
        None,
        None,
    )


# MEM-004


def test_member_join_dates_are_not_in_the_future_reports_live_member_only():
    member = MemberFactory(join_date=TODAY + datetime.timedelta(days=1))
    deleted_member(join_date=D(2030, 1, 1))

    [issue] = check("MEM-004")

    assert (issue.object_ids, issue.details, issue.repair, issue.fix) == (
        [member.pk],
        {"member_id": member.pk, "join_date": "2026-06-16"},
        None,
        None,
    )


# MEM-005


def test_member_numbers_are_unique_ignores_case_and_includes_deleted_members():
    member = MemberFactory(member_number="A12345")
    twin = deleted_member()
    drop_rule(Member, "member_number_unique")
    drop_rule(Member, "number_format")
    Member.all_objects.filter(pk=twin.pk).update(member_number="a12345")

    [issue] = check("MEM-005")

    assert (issue.object_ids, issue.details, issue.repair, issue.fix) == (
        [member.pk, twin.pk],
        {"member_number": "A12345", "member_ids": [member.pk, twin.pk]},
        None,
        None,
    )


# MEM-006


@pytest.mark.parametrize("number", ["1234", "12345678901", "AB12345", "12345a", "A12345B", " 12345"])
def test_member_numbers_match_the_format_reports_bad_number(number):
    member = MemberFactory()
    drop_rule(Member, "number_format")
    Member.all_objects.filter(pk=member.pk).update(member_number=number)

    [issue] = check("MEM-006")

    assert (issue.object_ids, issue.details, issue.repair, issue.fix) == (
        [member.pk],
        {"member_id": member.pk, "member_number": number},
        None,
        None,
    )


# MEM-007


def test_active_members_have_employment_history_lists_every_member_in_one_finding():
    jobless = MemberFactory.create_batch(3)
    job(MemberFactory(), D(2019, 1, 1), D(2019, 12, 31))
    MemberFactory(status=MemberStatus.SUSPENDED)
    deleted_member()

    [issue] = check("MEM-007")

    ids = [member.pk for member in jobless]
    assert (issue.object_ids, issue.details, issue.repair, issue.fix) == (
        ids,
        {"member_ids": ids, "count": 3},
        None,
        None,
    )


# MEM-008


def test_retired_and_deceased_members_have_no_current_job_reports_live_member_only():
    retired = MemberFactory(status=MemberStatus.RETIRED)
    current = job(retired, D(2020, 1, 1))
    job(MemberFactory(status=MemberStatus.DECEASED), D(2020, 1, 1), D(2024, 1, 1))
    job(deleted_member(status=MemberStatus.DECEASED), D(2020, 1, 1))

    [issue] = check("MEM-008")

    assert (issue.object_ids, issue.details, issue.repair, issue.fix) == (
        [retired.pk],
        {"member_id": retired.pk, "status": "retired", "employment_ids": [current.pk]},
        None,
        None,
    )


# MEM-009


def test_member_ages_are_plausible_reports_ages_outside_16_to_110():
    too_young = MemberFactory(date_of_birth=D(2010, 6, 16))
    MemberFactory(date_of_birth=D(2010, 6, 15))  # 16 today
    MemberFactory(date_of_birth=D(1915, 6, 16))  # 110, 111 tomorrow
    too_old = MemberFactory(date_of_birth=D(1915, 6, 15))
    deleted_member(date_of_birth=D(2020, 1, 1))

    issues = check("MEM-009")

    assert [(issue.object_ids, issue.details, issue.repair, issue.fix) for issue in issues] == [
        ([too_young.pk], {"member_id": too_young.pk, "date_of_birth": "2010-06-16", "age": 15}, None, None),
        ([too_old.pk], {"member_id": too_old.pk, "date_of_birth": "1915-06-15", "age": 111}, None, None),
    ]


def test_member_ages_are_plausible_counts_birthdays_on_29_february():
    member = MemberFactory(date_of_birth=D(2012, 2, 29))

    issues = check("MEM-009", today=D(2028, 2, 28))

    assert [(issue.object_ids, issue.details["age"]) for issue in issues] == [([member.pk], 15)]


# EMP-001 and EMP-002


def test_employments_have_a_member_deletes_orphan_and_its_attachments():
    employment = job(MemberFactory(), D(2020, 1, 1))
    attachment = AttachmentFactory(target_obj=employment)
    missing_id = employment.member_id + 1000
    execute(
        f"UPDATE {MemberEmployment._meta.db_table} SET member_id = %s WHERE id = %s",
        [missing_id, employment.pk],
        replica=True,
    )

    [issue] = check("EMP-001")
    assert (issue.object_ids, issue.details, issue.repair) == (
        [employment.pk],
        {"employment_id": employment.pk, "member_id": missing_id},
        "delete the employment",
    )
    [result] = apply_repairs([issue], run_id=RUN_ID)

    assert result.status == "applied"
    assert not MemberEmployment.objects.filter(pk=employment.pk).exists()
    assert check("EMP-001") == []
    event = last_event(MemberEmployment, employment.pk)
    assert (event.pgh_label, repair_context(event)) == ("delete", repaired_by("EMP-001"))
    assert repair_context(last_event(Attachment, attachment.pk)) == repaired_by("EMP-001")
    assert Attachment.all_objects.get(pk=attachment.pk).is_deleted


def test_employments_have_an_organization_deletes_orphan():
    employment = job(MemberFactory(), D(2020, 1, 1))
    missing_id = employment.organization_id + 1000
    execute(
        f"UPDATE {MemberEmployment._meta.db_table} SET organization_id = %s WHERE id = %s",
        [missing_id, employment.pk],
        replica=True,
    )

    [issue] = check("EMP-002")
    assert (issue.object_ids, issue.details, issue.repair) == (
        [employment.pk],
        {"employment_id": employment.pk, "organization_id": missing_id},
        "delete the employment",
    )
    apply_repairs([issue], run_id=RUN_ID)

    assert not MemberEmployment.objects.filter(pk=employment.pk).exists()
    assert check("EMP-002") == []
    event = last_event(MemberEmployment, employment.pk)
    assert (event.pgh_label, repair_context(event)) == ("delete", repaired_by("EMP-002"))


def test_employments_have_an_organization_repair_spares_row_whose_parent_came_back():
    organization = EmployerFactory()
    employment = job(MemberFactory(), D(2020, 1, 1), organization=organization)
    execute(
        f"UPDATE {MemberEmployment._meta.db_table} SET organization_id = %s WHERE id = %s",
        [organization.pk + 1000, employment.pk],
        replica=True,
    )
    issues = check("EMP-002")
    execute(
        f"UPDATE {Organization._meta.db_table} SET id = %s WHERE id = %s", [organization.pk + 1000, organization.pk]
    )

    apply_repairs(issues, run_id=RUN_ID)

    assert MemberEmployment.objects.filter(pk=employment.pk).exists()


# EMP-003


def test_employments_end_after_they_start_swaps_dates():
    member = MemberFactory()
    job(member, D(2019, 1, 1), D(2022, 12, 31))
    drop_rule(MemberEmployment, "end_after_start")
    reversed_job = job(member, D(2024, 3, 1), D(2023, 1, 1))

    [issue] = check("EMP-003")
    assert (issue.object_ids, issue.details, issue.repair) == (
        [reversed_job.pk],
        {
            "employment_id": reversed_job.pk,
            "member_id": member.pk,
            "start_date": "2024-03-01",
            "end_date": "2023-01-01",
            "swap_overlaps_other_job": False,
        },
        "swap the start and end dates",
    )
    apply_repairs([issue], run_id=RUN_ID)
    apply_repairs([issue], run_id=RUN_ID)  # a second run must not swap back

    reversed_job.refresh_from_db()
    assert (reversed_job.start_date, reversed_job.end_date) == (D(2023, 1, 1), D(2024, 3, 1))
    assert check("EMP-003") == []
    assert repair_context(last_event(MemberEmployment, reversed_job.pk)) == repaired_by("EMP-003")


@pytest.mark.parametrize(
    ("other_start", "other_end"),
    [
        (D(2023, 6, 1), D(2023, 8, 31)),
        (D(2022, 1, 1), D(2023, 1, 1)),
        (D(2024, 1, 1), None),
        (D(2023, 9, 1), D(2023, 2, 1)),
    ],
    ids=["inside", "shares-a-day", "open", "reversed"],
)
def test_employments_end_after_they_start_leaves_overlapping_swap_to_a_person(other_start, other_end):
    member = MemberFactory()
    drop_rule(MemberEmployment, "end_after_start")
    job(member, other_start, other_end)
    reversed_job = job(member, D(2024, 3, 1), D(2023, 1, 1))

    issue = next(issue for issue in check("EMP-003") if issue.object_ids == [reversed_job.pk])

    assert (issue.details["swap_overlaps_other_job"], issue.repair, issue.fix) == (True, None, None)


# EMP-004


def test_employments_are_current_exactly_when_open_repairs_both_directions_for_one_member():
    member = MemberFactory()
    drop_rule(MemberEmployment, "current_iff_open")
    ended = job(member, D(2019, 1, 1), D(2020, 12, 31))
    open_job = job(member, D(2021, 1, 1))
    MemberEmployment.objects.filter(pk=open_job.pk).update(is_current=False)
    MemberEmployment.objects.filter(pk=ended.pk).update(is_current=True)

    issues = check("EMP-004")
    assert [(issue.object_ids, issue.repair) for issue in issues] == [
        ([ended.pk], "set is_current to False"),
        ([open_job.pk], "set is_current to True"),
    ]
    results = apply_repairs(issues, run_id=RUN_ID)

    assert [result.status for result in results] == ["applied", "applied"]
    assert list(member.employments.order_by("start_date").values_list("is_current", flat=True)) == [False, True]
    assert check("EMP-004") == []
    assert repair_context(last_event(MemberEmployment, ended.pk)) == repaired_by("EMP-004")
    assert repair_context(last_event(MemberEmployment, open_job.pk)) == repaired_by("EMP-004")


def test_employments_are_current_exactly_when_open_covers_deleted_members():
    member = deleted_member()
    drop_rule(MemberEmployment, "current_iff_open")
    employment = job(member, D(2019, 1, 1), D(2020, 12, 31))
    MemberEmployment.objects.filter(pk=employment.pk).update(is_current=True)

    [issue] = check("EMP-004")
    assert issue.details == {
        "employment_id": employment.pk,
        "member_id": member.pk,
        "is_current": True,
        "end_date": "2020-12-31",
        "member_has_other_open_job": False,
    }
    apply_repairs([issue], run_id=RUN_ID)

    assert MemberEmployment.objects.get(pk=employment.pk).is_current is False


def test_employments_are_current_exactly_when_open_never_makes_a_second_current_job():
    member = MemberFactory()
    drop_rule(MemberEmployment, "current_iff_open")
    job(member, D(2022, 1, 1))
    second_open = job(member, D(2021, 1, 1), D(2021, 6, 30))
    MemberEmployment.objects.filter(pk=second_open.pk).update(end_date=None, is_current=False)

    [issue] = check("EMP-004")

    assert (issue.object_ids, issue.details["member_has_other_open_job"], issue.repair, issue.fix) == (
        [second_open.pk],
        True,
        None,
        None,
    )


# EMP-005


def test_members_have_at_most_one_current_job_reports_member():
    member = MemberFactory()
    drop_rule(MemberEmployment, "one_current_job")
    jobs = [job(member, D(2020, 1, 1)), job(member, D(2021, 1, 1))]

    [issue] = check("EMP-005")

    assert (issue.object_ids, issue.model, issue.details, issue.repair, issue.fix) == (
        [member.pk],
        "members.Member",
        {"member_id": member.pk, "employment_ids": [j.pk for j in jobs]},
        None,
        None,
    )


# EMP-006


def test_employment_rates_are_plausible_reports_rates_outside_10_to_150():
    member = MemberFactory()
    low = job(member, D(2018, 1, 1), D(2018, 12, 31), hourly_rate=Decimal("9.99"))
    job(member, D(2019, 1, 1), D(2019, 12, 31), hourly_rate=Decimal("10.00"))
    job(member, D(2020, 1, 1), D(2020, 12, 31), hourly_rate=Decimal("150.00"))
    high = job(member, D(2021, 1, 1), hourly_rate=Decimal("150.01"))
    job(deleted_member(), D(2021, 1, 1), hourly_rate=Decimal("1.00"))

    issues = check("EMP-006")

    assert [(issue.object_ids, issue.details, issue.repair, issue.fix) for issue in issues] == [
        ([low.pk], {"employment_id": low.pk, "member_id": member.pk, "hourly_rate": "9.99"}, None, None),
        ([high.pk], {"employment_id": high.pk, "member_id": member.pk, "hourly_rate": "150.01"}, None, None),
    ]


# EMP-007


def test_employments_of_a_member_do_not_overlap_reports_job_inside_a_long_one():
    member = MemberFactory()
    long_job = job(member, D(2020, 1, 1), D(2020, 12, 31))
    short = job(member, D(2020, 2, 1), D(2020, 3, 31))
    later = job(member, D(2020, 5, 1), D(2020, 6, 30))  # overlaps only the long job
    job(member, D(2021, 1, 1))

    [issue] = check("EMP-007")

    ids = [long_job.pk, short.pk, later.pk]
    assert (issue.object_ids, issue.details, issue.repair, issue.fix) == (
        ids,
        {"member_id": member.pk, "employment_ids": ids},
        None,
        None,
    )


@pytest.mark.parametrize(
    ("first", "second", "overlapping"),
    [
        ((D(2020, 1, 1), D(2021, 5, 31)), (D(2021, 6, 1), None), False),
        ((D(2020, 1, 1), D(2021, 6, 1)), (D(2021, 6, 1), None), True),
        ((D(2020, 1, 1), None), (D(2023, 1, 1), D(2023, 2, 1)), True),
        ((D(2020, 1, 1), None), (D(2026, 6, 16), D(2026, 7, 1)), False),
    ],
    ids=["adjacent", "shares-a-day", "inside-open-job", "after-today"],
)
def test_employments_of_a_member_do_not_overlap_compares_ranges(first, second, overlapping):
    member = MemberFactory()
    jobs = [job(member, *first), job(member, *second)]

    issues = check("EMP-007")

    assert [issue.object_ids for issue in issues] == ([[j.pk for j in jobs]] if overlapping else [])


def test_employments_of_a_member_do_not_overlap_ignores_deleted_members():
    member = deleted_member()
    job(member, D(2020, 1, 1), D(2020, 12, 31))
    job(member, D(2020, 6, 1))

    assert check("EMP-007") == []


# EMP-008


def test_employment_end_dates_are_not_in_the_future_reports_live_member_only():
    member = MemberFactory()
    future = job(member, D(2020, 1, 1), TODAY + datetime.timedelta(days=1))
    job(member, D(2019, 1, 1), TODAY)
    job(deleted_member(), D(2020, 1, 1), D(2027, 1, 1))

    [issue] = check("EMP-008")

    assert (issue.object_ids, issue.details, issue.repair, issue.fix) == (
        [future.pk],
        {"employment_id": future.pk, "member_id": member.pk, "end_date": "2026-06-16"},
        None,
        None,
    )
