"""Member and employment resources: formula-safe exports, round trips, imports through save()."""

import datetime

import pytest
import tablib

from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member, MemberEmployment
from members.resources import MemberEmploymentResource, MemberResource
from organizations.factories import EmployerFactory

pytestmark = pytest.mark.django_db


def csv_rows(csv_text: str) -> list[dict]:
    return tablib.Dataset().load(csv_text, format="csv").dict


def import_csv(resource, csv_text: str, **kwargs):
    return resource.import_data(tablib.Dataset().load(csv_text, format="csv"), **kwargs)


def test_member_export_escapes_cells_a_spreadsheet_would_run():
    MemberFactory(phone="+1 206 555 0100", notes="=SUM(A1)", city="@home", middle_name="-x")

    [row] = csv_rows(MemberResource().export().csv)

    assert (row["phone"], row["notes"], row["city"], row["middle_name"]) == (
        "'+1 206 555 0100",
        "'=SUM(A1)",
        "'@home",
        "'-x",
    )


def test_member_round_trip_leaves_the_database_unchanged():
    MemberFactory(phone="+1 206 555 0100", notes="=SUM(A1)")
    MemberFactory(phone="206 555 0101", date_of_birth=datetime.date(1990, 5, 17))
    events_before = Member.pgh_event_model.objects.count()

    result = import_csv(MemberResource(), MemberResource().export().csv)

    assert [row.import_type for row in result.rows] == ["skip", "skip"]
    assert Member.pgh_event_model.objects.count() == events_before
    assert sorted(Member.objects.values_list("phone", "notes")) == [
        ("+1 206 555 0100", "=SUM(A1)"),
        ("206 555 0101", ""),
    ]


def test_member_import_matches_the_number_case_insensitively_and_saves_through_save():
    member = MemberFactory(member_number="A1234567", first_name="Ana", last_name="Ruiz")
    csv = "member_number,first_name,last_name,status,classification\n a1234567 ,Ana , Ruiz-Diaz,retired,retiree\n"

    result = import_csv(MemberResource(), csv)

    assert [row.import_type for row in result.rows] == ["update"]
    member.refresh_from_db()
    assert (member.last_name, member.status) == ("Ruiz-Diaz", "retired")
    assert member.events.order_by("pgh_id").last().last_name == "Ruiz-Diaz"


def test_member_import_updates_a_soft_deleted_member_instead_of_reusing_its_number():
    member = MemberFactory(member_number="7000123")
    member.soft_delete(reason="left")
    csv = "member_number,first_name,last_name,status,classification\n7000123,Ana,Ruiz,active,journeyman\n"

    result = import_csv(MemberResource(), csv)

    assert [row.import_type for row in result.rows] == ["update"]
    assert Member.all_objects.filter(member_number="7000123").count() == 1


def test_member_import_reports_the_constraint_message_for_a_bad_number():
    csv = "member_number,first_name,last_name,status,classification\nAB12,Ana,Ruiz,active,journeyman\n"

    result = import_csv(MemberResource(), csv)

    [invalid] = result.invalid_rows
    assert invalid.error_dict == {
        "__all__": ["A member number is 5 to 10 digits, with at most one letter before or after."]
    }
    assert not Member.all_objects.exists()


def test_employment_export_names_member_by_number_and_organization_by_id():
    employment = MemberEmploymentFactory(hourly_rate="42.50")

    [row] = csv_rows(MemberEmploymentResource().export().csv)

    assert row["member"] == employment.member.member_number
    assert row["organization"] == str(employment.organization_id)
    assert row["organization_name"] == employment.organization.name
    assert row["hourly_rate"] == "42.50"


def test_employment_round_trip_leaves_the_database_unchanged():
    MemberEmploymentFactory(job_title="-foreman", end_date=datetime.date(2021, 3, 1))
    MemberEmploymentFactory()

    result = import_csv(MemberEmploymentResource(), MemberEmploymentResource().export().csv)

    assert [row.import_type for row in result.rows] == ["skip", "skip"]


def test_employment_import_derives_is_current_and_ignores_the_column():
    member = MemberFactory(member_number="7000777")
    employer = EmployerFactory()
    csv = (
        "member,organization,start_date,end_date,is_current,job_title\n"
        f"7000777,{employer.pk},2019-01-07,2019-12-20,1,Apprentice wireman\n"
        f"7000777,{employer.pk},2020-01-06,,0,Journeyman wireman\n"
    )

    result = import_csv(MemberEmploymentResource(), csv)

    assert [row.import_type for row in result.rows] == ["new", "new"]
    assert list(member.employments.order_by("start_date").values_list("job_title", "is_current")) == [
        ("Apprentice wireman", False),
        ("Journeyman wireman", True),
    ]


def test_employment_import_reports_an_unknown_organization():
    MemberFactory(member_number="7000777")
    csv = "member,organization,start_date\n7000777,999999,2020-01-06\n"

    result = import_csv(MemberEmploymentResource(), csv)

    [invalid] = result.invalid_rows
    assert invalid.error_dict == {"organization": ["No organization with id '999999'."]}
    assert not MemberEmployment.objects.exists()


def test_employment_import_refuses_to_give_a_job_another_member():
    job = MemberEmploymentFactory(member__member_number="7000777", job_title="Wireman")
    MemberFactory(member_number="7000778")
    csv = (
        "id,member,organization,start_date,job_title\n"
        f"{job.pk},7000778,{job.organization_id},{job.start_date.isoformat()},Foreman\n"
    )

    result = import_csv(MemberEmploymentResource(), csv)

    [invalid] = result.invalid_rows
    assert invalid.error_dict == {
        "member": ["A job stays with its member: delete it and add it to the right member instead."]
    }
    job.refresh_from_db()
    assert (job.member.member_number, job.job_title) == ("7000777", "Wireman")
