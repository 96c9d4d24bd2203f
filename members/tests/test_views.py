import csv
import datetime as dt
import io

import openpyxl
import pytest
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from attachments.factories import AttachmentFactory
from audit.models import AccessLog
from ip2a import views
from ip2a.database.base import PREPARED_MARK
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member, MemberEmployment, MemberStatus
from members.views import MemberListView
from organizations.factories import EmployerFactory

pytestmark = pytest.mark.django_db

VIEWERS = {"admin", "officer", "staff", "organizer", "read_only"}
EDITORS = {"admin", "officer", "staff"}
DELETERS = {"admin", "officer"}
EXPORTERS = {"admin", "officer", "staff"}
START = dt.date(2020, 1, 6)


def today():
    return timezone.localdate()


@pytest.fixture
def job():
    """A live member's current job."""
    return MemberEmploymentFactory(start_date=START)


def member_url(name, member):
    return reverse(f"members:{name}", args=[member.pk])


# --- Who may open what ------------------------------------------------------------------------------------

PAGES = {
    "member_list": (lambda job: reverse("members:member_list"), VIEWERS),
    "member_export": (lambda job: reverse("members:member_list") + "?export=csv", EXPORTERS),
    "member_detail": (lambda job: member_url("member_detail", job.member), VIEWERS),
    "member_create": (lambda job: reverse("members:member_create"), EDITORS),
    "member_update": (lambda job: member_url("member_update", job.member), EDITORS),
    "member_status": (lambda job: member_url("member_status", job.member), EDITORS),
    "member_delete": (lambda job: member_url("member_delete", job.member), DELETERS),
    "member_restore": (lambda job: member_url("member_restore", MemberFactory(deleted_at=timezone.now())), DELETERS),
    "employment_create": (lambda job: member_url("employment_create", job.member), EDITORS),
    "employment_update": (lambda job: reverse("members:employment_update", args=[job.pk]), EDITORS),
    "employment_end": (lambda job: reverse("members:employment_end", args=[job.pk]), EDITORS),
    "employment_delete": (lambda job: reverse("members:employment_delete", args=[job.pk]), EDITORS),
}


@pytest.mark.parametrize("page", PAGES)
def test_member_pages_answer_each_role_as_its_permissions_say(role_client, any_role, job, page):
    url, allowed = PAGES[page]

    response = role_client(any_role).get(url(job))

    assert response.status_code == (200 if any_role in allowed else 403)


@pytest.mark.parametrize(
    ("role", "page"),
    [("organizer", "member_update"), ("read_only", "member_status"), ("staff", "member_delete")],
)
def test_member_writes_are_refused_without_the_permission(role_client, job, role, page):
    url, _ = PAGES[page]

    first_name = job.member.first_name

    response = role_client(role).post(url(job), {"first_name": "Changed", "status": "retired", "reason": "test"})

    job.member.refresh_from_db()
    assert response.status_code == 403
    assert (job.member.first_name, job.member.status, job.member.deleted_at) == (first_name, "active", None)


@pytest.mark.parametrize("page", ["employment_create", "employment_update", "employment_end", "employment_delete"])
def test_employment_writes_are_refused_for_organizers(role_client, job, page):
    url, _ = PAGES[page]

    response = role_client("organizer").post(url(job), {"end_date": "2024-01-01", "reason": "test"})

    assert response.status_code == 403
    assert list(MemberEmployment.objects.values_list("pk", "end_date")) == [(job.pk, None)]


# --- List, search and export ------------------------------------------------------------------------------


def test_member_list_runs_a_fixed_number_of_queries(role_client, django_assert_max_num_queries):
    MemberEmploymentFactory.create_batch(35)
    client = role_client("read_only")
    client.get(reverse("members:member_list"))  # warm-up: the session renewal write happens once a minute
    cache.clear()  # the warm-up kept the page (ip2a.content): render it again
    views._kept_pages.clear()

    # session, user, user and group permissions, the page's check statement (its count and rows' digest, which
    # a kept page is served by; ip2a.content), the page with its current employers
    with django_assert_max_num_queries(8):
        response = client.get(reverse("members:member_list"))

    assert len(response.context["object_list"]) == 35
    assert all(member.current_employment for member in response.context["object_list"])


def test_member_list_filters_within_the_same_query_budget(role_client, django_assert_max_num_queries):
    volt = EmployerFactory(name="Volt Electric")
    MemberEmploymentFactory.create_batch(30, organization=volt)
    MemberEmploymentFactory.create_batch(5, member__status=MemberStatus.SUSPENDED, organization=volt)
    client = role_client("read_only")
    client.get(reverse("members:member_list"))

    with django_assert_max_num_queries(8):
        response = client.get(
            reverse("members:member_list"), {"status": "suspended", "employer": "volt", "q": "", "sort": "-number"}
        )

    members = response.context["object_list"]
    assert [m.status for m in members] == [MemberStatus.SUSPENDED] * 5
    assert [m.member_number for m in members] == sorted((m.member_number for m in members), reverse=True)


def test_member_list_shows_the_columns(role_client, job):
    response = role_client("read_only").get(reverse("members:member_list"))

    row = f'<td><a href="/members/{job.member.pk}/">{job.member.member_number}</a></td>'
    assert row in response.content.decode()
    assert f'<a href="/organizations/{job.organization.pk}/">{job.organization.name}</a>' in response.content.decode()


def test_member_list_search_finds_a_member_by_number_prefix(role_client):
    wanted = MemberFactory(member_number="A1234567")
    MemberFactory(member_number="B7654321")

    response = role_client("read_only").get(reverse("members:member_list"), {"q": "a123"})

    assert list(response.context["object_list"]) == [wanted]


def test_member_list_answers_htmx_with_the_table_only(role_client, job):
    response = role_client("read_only").get(reverse("members:member_list"), headers={"HX-Request": "true"})

    content = response.content.decode()
    assert "<table>" in content
    assert "<form" not in content
    assert "<html" not in content


def test_member_list_rejects_malformed_filters(role_client):
    response = role_client("read_only").get(reverse("members:member_list"), {"status": "gone"})

    assert response.status_code == 400


def test_member_list_pagination_keeps_the_filters(role_client):
    MemberFactory.create_batch(51, status=MemberStatus.RETIRED)

    response = role_client("read_only").get(reverse("members:member_list"), {"status": "retired"})

    assert '?status=retired&amp;page=2"' in response.content.decode()


def test_member_list_hides_the_add_button_from_read_only(role_client):
    response = role_client("read_only").get(reverse("members:member_list"))

    assert reverse("members:member_create") not in response.content.decode()


def export(client, fmt="csv", **filters):
    return client.get(reverse("members:member_list"), {**filters, "export": fmt})


def test_member_export_holds_exactly_the_filtered_rows_in_screen_order(role_client):
    MemberFactory.create_batch(53, status=MemberStatus.INACTIVE)
    MemberFactory.create_batch(4, status=MemberStatus.ACTIVE)
    client = role_client("staff")
    filters = {"status": "inactive", "sort": "-number"}
    on_screen = [
        member.member_number
        for page in (1, 2)
        for member in client.get(reverse("members:member_list"), {**filters, "page": page}).context["object_list"]
    ]

    response = export(client, **filters)

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert response["Content-Disposition"] == 'attachment; filename="member-list.csv"'
    assert [row["member_number"] for row in rows] == on_screen
    assert len(on_screen) == 53


def test_member_export_neutralises_formula_cells_in_csv(role_client):
    MemberFactory(member_number="1000001", phone="+1 206 555 0100", notes="=cmd|' /C calc'!A0")

    response = export(role_client("officer"))

    [row] = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert (row["phone"], row["notes"]) == ("'+1 206 555 0100", "'=cmd|' /C calc'!A0")


def test_member_export_neutralises_formula_cells_in_xlsx(role_client):
    MemberFactory(member_number="1000001", phone="+1 206 555 0100", notes='=HYPERLINK("http://x")')

    response = export(role_client("officer"), fmt="xlsx")

    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header, values = (list(row) for row in sheet.iter_rows(values_only=True))
    row = dict(zip(header, values, strict=True))
    assert (row["phone"], row["notes"]) == ("'+1 206 555 0100", '\'=HYPERLINK("http://x")')


def test_member_export_is_written_to_the_access_log_with_its_row_count(role_client):
    MemberFactory.create_batch(3, status=MemberStatus.RETIRED)
    MemberFactory()

    export(role_client("staff"), status="retired")

    log = AccessLog.objects.get()
    assert (log.action, log.row_count, log.query) == ("export", 3, "status=retired&export=csv")


def test_member_list_offers_export_only_to_exporters(role_client):
    staff_page = role_client("staff").get(reverse("members:member_list")).content.decode()
    read_only_page = role_client("read_only").get(reverse("members:member_list")).content.decode()

    assert "export=csv" in staff_page
    assert "export=csv" not in read_only_page


def test_member_list_lets_officers_find_deleted_members(role_client):
    MemberFactory()
    gone = MemberFactory(deleted_at=timezone.now())

    response = role_client("officer").get(reverse("members:member_list"), {"deleted": "only"})

    assert list(response.context["object_list"]) == [gone]


# --- Detail -----------------------------------------------------------------------------------------------


def test_member_detail_runs_a_fixed_number_of_queries(role_client, job, django_assert_max_num_queries):
    for year in range(2000, 2020):
        MemberEmploymentFactory(member=job.member, start_date=dt.date(year, 1, 1), end_date=dt.date(year, 12, 1))
    client = role_client("staff")
    url = member_url("member_detail", job.member)
    client.get(url)  # warm-up: the session renewal write happens once a minute
    cache.clear()  # the page as rendered, not its kept body (ip2a/tests/test_caching.py covers that)

    # session, user, user and group permissions, member with student, employments with employers, recent
    # activity (events of all tables, their related records, the user's roles for the attachment rule), access
    # log; the attachments panel (5 queries when this was written)
    with django_assert_max_num_queries(15):
        response = client.get(url)

    starts = [employment.start_date for employment in response.context["employments"]]
    assert len(starts) == 21
    assert starts == sorted(starts, reverse=True)
    assert response.context["current_job"] == job


def test_member_detail_is_written_to_the_access_log(role_client, job):
    role_client("read_only").get(member_url("member_detail", job.member))

    log = AccessLog.objects.get()
    assert (log.action, log.target_id, log.username) == ("view", job.member.pk, "read_only-user")


def test_member_detail_shows_recent_activity_with_who_and_why(role_client, job):
    client = role_client("officer")
    client.post(member_url("member_status", job.member), {"status": "suspended", "reason": "dues arrears"})

    response = client.get(member_url("member_detail", job.member))

    [latest, *_] = response.context["recent_activity"]
    assert (latest["who"], latest["what"], latest["reason"]) == ("officer-user", "Member changed", "dues arrears")


def test_member_detail_recent_activity_names_soft_delete_and_restore(role_client, job):
    job.member.soft_delete(reason="duplicate")
    job.member.restore(reason="not a duplicate")

    response = role_client("officer").get(member_url("member_detail", job.member))

    whats = [(entry["what"], entry["reason"]) for entry in response.context["recent_activity"]]
    assert whats[:2] == [("Member restored", "not a duplicate"), ("Member deleted", "duplicate")]


def test_member_detail_recent_activity_keeps_the_last_ten_events(role_client, job):
    for n in range(12):
        Member.objects.filter(pk=job.member.pk).update(notes=f"note {n}")

    response = role_client("staff").get(member_url("member_detail", job.member))

    assert len(response.context["recent_activity"]) == 10


def test_member_detail_shows_read_only_users_no_actions(role_client, job):
    response = role_client("read_only").get(member_url("member_detail", job.member))

    content = response.content.decode()
    for name in ("member_update", "member_status", "member_delete", "employment_create"):
        assert member_url(name, job.member) not in content
    assert reverse("members:employment_end", args=[job.pk]) not in content


def test_member_detail_shows_staff_the_employment_actions(role_client, job):
    response = role_client("staff").get(member_url("member_detail", job.member))

    content = response.content.decode()
    for name in ("employment_update", "employment_end", "employment_delete"):
        assert reverse(f"members:{name}", args=[job.pk]) in content
    assert member_url("member_delete", job.member) not in content


def test_member_detail_offers_deceased_status_changes_only_to_admins(role_client):
    member = MemberFactory(status=MemberStatus.DECEASED)

    officer_page = role_client("officer").get(member_url("member_detail", member)).content.decode()
    admin_page = role_client("admin").get(member_url("member_detail", member)).content.decode()

    assert member_url("member_status", member) not in officer_page
    assert member_url("member_status", member) in admin_page


def test_member_detail_links_to_the_linked_student(role_client):
    from training.factories import StudentFactory

    student = StudentFactory(first_name="Ana", last_name="Ruiz")
    member = MemberFactory(student=student)

    response = role_client("staff").get(member_url("member_detail", member))

    assert f'<a href="/training/students/{student.pk}/">Ana Ruiz</a>' in response.content.decode()


def test_member_detail_of_a_deleted_member_is_only_for_those_who_may_restore_it(role_client):
    member = MemberFactory(deleted_at=timezone.now())

    staff_response = role_client("staff").get(member_url("member_detail", member))
    officer_response = role_client("officer").get(member_url("member_detail", member))

    assert staff_response.status_code == 404
    assert officer_response.status_code == 200
    assert member_url("member_restore", member) in officer_response.content.decode()


def test_member_detail_escapes_user_data(role_client):
    member = MemberFactory(last_name="<script>alert(1)</script>", notes="<b>bold</b>")

    content = role_client("staff").get(member_url("member_detail", member)).content.decode()

    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "&lt;b&gt;bold&lt;/b&gt;" in content


# --- Member forms -----------------------------------------------------------------------------------------


def test_member_create_saves_and_goes_to_the_new_member(role_client):
    data = {"member_number": " b1234567 ", "first_name": "Ana", "last_name": "Ruiz", "status": "active",
            "classification": "journeyman"}  # fmt: skip

    response = role_client("staff").post(reverse("members:member_create"), data)

    member = Member.objects.get()
    assert member.member_number == "B1234567"
    assert response.status_code == 302
    assert response["Location"] == f"/members/{member.pk}/"


def test_member_create_answers_bad_input_with_400_and_the_message(role_client):
    data = {"member_number": "12", "first_name": "Ana", "last_name": "Ruiz", "status": "active",
            "classification": "journeyman", "join_date": (today() + dt.timedelta(days=3)).isoformat()}  # fmt: skip

    response = role_client("staff").post(reverse("members:member_create"), data)

    assert response.status_code == 400
    assert response.context["form"].errors == {
        "member_number": ["A member number is 5 to 10 digits, with at most one letter before or after."],
        "join_date": ["The join date cannot be in the future."],
    }
    assert not Member.objects.exists()


def test_member_update_changes_the_member_but_never_the_status(role_client, job):
    member = job.member
    data = {"member_number": member.member_number, "first_name": "Renamed", "last_name": member.last_name,
            "classification": "foreman", "status": "deceased"}  # fmt: skip

    response = role_client("staff").post(member_url("member_update", member), data)

    member.refresh_from_db()
    assert response.status_code == 302
    assert (member.first_name, member.classification, member.status) == ("Renamed", "foreman", "active")


def test_member_update_of_other_fields_asks_no_constraint_the_stored_values_settle(role_client, job):
    """The number, names and classification sent back unchanged: the database checked them when they were
    written, so the save asks neither the check constraints nor the number's uniqueness first."""
    member, client = job.member, role_client("staff")
    data = {"member_number": member.member_number, "first_name": member.first_name, "last_name": member.last_name,
            "classification": member.classification, "phone": "555-201-3344"}  # fmt: skip

    with CaptureQueriesContext(connection) as queries:
        response = client.post(member_url("member_update", member), data)

    member.refresh_from_db()
    assert (response.status_code, member.phone) == (302, "555-201-3344")
    asked = [q["sql"] for q in queries.captured_queries if "_check_" in q["sql"] or 'SELECT 1 AS "a"' in q["sql"]]
    assert asked == []


def test_member_update_to_another_members_number_is_refused_before_the_save(role_client, job):
    member, other = job.member, MemberFactory()
    data = {"member_number": other.member_number, "first_name": member.first_name, "last_name": member.last_name,
            "classification": member.classification}  # fmt: skip

    with CaptureQueriesContext(connection) as queries:
        response = role_client("staff").post(member_url("member_update", member), data)

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "A member with this member number already exists (numbers are never reused)."
    ]
    assert not any('UPDATE "members_member"' in query["sql"] for query in queries.captured_queries)
    assert Member.objects.get(pk=member.pk).member_number == member.member_number


def test_member_update_reads_the_member_once_and_is_not_found_once_it_is_deleted(role_client, job):
    member, client = job.member, role_client("staff")
    client.get(member_url("member_update", member))  # the statements written once, as a user's first visit

    with CaptureQueriesContext(connection) as queries:
        shown = client.get(member_url("member_update", member))
    member_reads = [q["sql"] for q in queries.captured_queries if '"members_member"' in q["sql"]]
    member.soft_delete(reason="Entered twice")
    gone = client.get(member_url("member_update", member))

    assert (shown.status_code, shown.context["form"].instance) == (200, member)
    assert len(member_reads) == 1
    assert member_reads[0].endswith(PREPARED_MARK)  # ip2a.rows' statement, not a QuerySet compiled per request
    assert gone.status_code == 404


def test_member_status_change_to_retired_ends_the_job_on_the_given_day(role_client, job):
    response = role_client("staff").post(
        member_url("member_status", job.member), {"status": "retired", "ended_on": "2025-06-30", "reason": ""}
    )

    job.refresh_from_db()
    job.member.refresh_from_db()
    assert response.status_code == 302
    assert job.member.status == MemberStatus.RETIRED
    assert (job.end_date, job.is_current) == (dt.date(2025, 6, 30), False)


def test_member_status_change_to_suspended_needs_a_reason(role_client, job):
    response = role_client("staff").post(member_url("member_status", job.member), {"status": "suspended"})

    job.member.refresh_from_db()
    assert response.status_code == 400
    assert response.context["form"].errors["reason"] == ["A reason is required to set the status to Suspended."]
    assert job.member.status == MemberStatus.ACTIVE


def test_member_status_of_a_deceased_member_is_final_for_officers(role_client):
    member = MemberFactory(status=MemberStatus.DECEASED)

    response = role_client("officer").post(member_url("member_status", member), {"status": "active", "reason": "x"})

    member.refresh_from_db()
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "Deceased is final: only an administrator can change this status."
    ]
    assert member.status == MemberStatus.DECEASED


def test_member_delete_needs_a_reason_and_hides_the_member(role_client, job):
    client = role_client("officer")
    refused = client.post(member_url("member_delete", job.member), {"reason": ""})

    response = client.post(member_url("member_delete", job.member), {"reason": "duplicate record"})

    assert refused.status_code == 400
    assert response.status_code == 302
    assert not Member.objects.filter(pk=job.member.pk).exists()
    assert Member.all_objects.get(pk=job.member.pk).events.last().pgh_context["reason"] == "duplicate record"


def test_member_restore_brings_the_member_back(role_client):
    member = MemberFactory(deleted_at=timezone.now())

    response = role_client("officer").post(member_url("member_restore", member), {"reason": "deleted by mistake"})

    assert response.status_code == 302
    assert Member.objects.filter(pk=member.pk).exists()


# --- Employment forms -------------------------------------------------------------------------------------


def add_job(client, member, **fields):
    data = {"start_date": "2024-03-01", "job_title": "Foreman", **fields}
    if "organization" not in data:
        data["organization"] = EmployerFactory().pk
    return client.post(member_url("employment_create", member), data)


def test_employment_create_ends_the_current_job_when_asked(role_client, job):
    response = add_job(role_client("staff"), job.member, end_current="on")

    job.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == f"/members/{job.member.pk}/"
    assert job.end_date == dt.date(2024, 2, 29)
    assert job.member.employments.get(is_current=True).start_date == dt.date(2024, 3, 1)


def test_employment_create_ending_the_current_job_runs_a_fixed_number_of_queries(
    role_client, job, django_assert_max_num_queries
):
    client = role_client("staff")
    employer = EmployerFactory()
    client.get(member_url("employment_create", job.member))  # the form first, as a user opens it

    # The form's validation, then the service's lock, end of the current job, overlap read and insert: no row the
    # request already read is looked up again (ip2a.models.TimestampedModel.clean_fields), the current job is
    # locked by the read that finds it, and the constraints the database enforces on the insert are not asked
    # again by the service.
    with django_assert_max_num_queries(16):
        response = add_job(client, job.member, organization=employer.pk, end_current="on")

    assert response.status_code == 302
    assert job.member.employments.get(is_current=True).organization == employer


def test_employment_create_refuses_a_second_current_job_when_not_asked_to_end_the_first(role_client, job):
    response = add_job(role_client("staff"), job.member)

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        f"{job.member.full_name} already has a current job: {job}. Choose to end it on 2024-02-29, or end it first."
    ]
    assert list(job.member.employments.values_list("pk", "end_date")) == [(job.pk, None)]


def test_employment_create_adds_a_past_job_without_touching_the_current_one(role_client, job):
    response = add_job(role_client("staff"), job.member, start_date="2018-01-01", end_date="2019-12-31")

    job.refresh_from_db()
    assert response.status_code == 302
    assert job.is_current is True
    assert job.member.employments.count() == 2


def test_employment_create_warns_about_an_unusual_rate_but_saves(role_client):
    member = MemberFactory()

    response = add_job(role_client("staff"), member, hourly_rate="175.00")

    assert response.status_code == 302
    assert member.employments.get().hourly_rate == 175
    assert [str(m) for m in get_messages(response.wsgi_request)][-1] == (
        "The hourly rate $175.00 is outside the usual $10–$150; please check it."
    )


def test_employment_create_for_a_deleted_member_is_not_found(role_client):
    member = MemberFactory(deleted_at=timezone.now())

    response = add_job(role_client("officer"), member)

    assert response.status_code == 404


def test_employment_update_saves_and_keeps_is_current_derived(role_client, job):
    data = {"organization": job.organization_id, "start_date": "2020-01-06", "end_date": "2023-08-31",
            "job_title": "General foreman", "is_current": "on"}  # fmt: skip

    response = role_client("staff").post(reverse("members:employment_update", args=[job.pk]), data)

    job.refresh_from_db()
    assert response.status_code == 302
    assert (job.job_title, job.end_date, job.is_current) == ("General foreman", dt.date(2023, 8, 31), False)


def test_employment_update_refuses_a_second_current_job(role_client, job):
    past = MemberEmploymentFactory(member=job.member, start_date=dt.date(2018, 1, 1), end_date=dt.date(2019, 1, 1))
    data = {"organization": past.organization_id, "start_date": "2018-01-01", "end_date": ""}

    response = role_client("staff").post(reverse("members:employment_update", args=[past.pk]), data)

    past.refresh_from_db()
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [f"These dates overlap another job of this member: {job}."]
    assert past.end_date == dt.date(2019, 1, 1)


def test_employment_end_sets_the_end_date(role_client, job):
    response = role_client("staff").post(
        reverse("members:employment_end", args=[job.pk]), {"end_date": "2025-01-31", "reason": "laid off"}
    )

    job.refresh_from_db()
    assert response.status_code == 302
    assert (job.end_date, job.is_current) == (dt.date(2025, 1, 31), False)


def test_employment_end_refuses_a_day_before_the_start(role_client, job):
    response = role_client("staff").post(reverse("members:employment_end", args=[job.pk]), {"end_date": "2019-12-31"})

    job.refresh_from_db()
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "The job cannot end on 2019-12-31, before it started (2020-01-06)."
    ]
    assert job.is_current is True


def test_employment_end_of_a_past_job_is_not_found(role_client):
    past = MemberEmploymentFactory(start_date=START, end_date=dt.date(2021, 1, 1))

    response = role_client("staff").get(reverse("members:employment_end", args=[past.pk]))

    assert response.status_code == 404


def test_employment_end_of_a_deleted_members_job_or_of_no_job_is_not_found(role_client, job):
    client = role_client("staff")
    missing = client.get(reverse("members:employment_end", args=[job.pk + 1000]))
    job.member.soft_delete(reason="Entered twice")

    response = client.post(reverse("members:employment_end", args=[job.pk]), {"end_date": "2025-01-31"})

    assert (missing.status_code, response.status_code) == (404, 404)
    assert MemberEmployment.objects.get(pk=job.pk).is_current is True


def test_employment_end_page_shows_the_job_its_member_and_employer(role_client, job):
    response = role_client("staff").get(reverse("members:employment_end", args=[job.pk]))

    assert response.status_code == 200
    assert response.context["object"] == job
    assert (response.context["object"].member, response.context["object"].organization) == (
        job.member,
        job.organization,
    )


def test_employment_delete_removes_the_row_and_hides_its_attachments(role_client, job):
    attachment = AttachmentFactory(target_obj=job)

    response = role_client("staff").post(
        reverse("members:employment_delete", args=[job.pk]), {"reason": "entered twice"}
    )

    attachment.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == f"/members/{job.member_id}/"
    assert not MemberEmployment.objects.filter(pk=job.pk).exists()
    assert attachment.deleted_at is not None


def test_employment_delete_needs_a_reason(role_client, job):
    response = role_client("staff").post(reverse("members:employment_delete", args=[job.pk]), {"reason": ""})

    assert response.status_code == 400
    assert MemberEmployment.objects.filter(pk=job.pk).exists()


def test_member_detail_shows_organizers_neither_the_student_nor_the_credentials(role_client):
    from training.factories import CredentialFactory, StudentFactory

    student = StudentFactory(first_name="Ana", last_name="Ruiz")
    CredentialFactory(student=student, name="OSHA 10")
    member = MemberFactory(student=student, first_name="Bea", last_name="Lopez")

    html = role_client("organizer").get(member_url("member_detail", member)).content.decode()

    assert "Ana Ruiz" not in html
    assert f"/training/students/{student.pk}/" not in html
    assert "OSHA 10" not in html
    assert "Yes (a pre-apprenticeship record)" in html


def test_member_list_filter_form_is_rendered_once_per_query_and_matches_the_plain_rendering(role_client, monkeypatch):
    from django.forms import BoundField

    from ip2a import views as ip2a_views

    ip2a_views._filter_forms.clear()
    client = role_client("officer")
    query = {"q": "<b>ruiz", "status": ["active", "retired"]}
    renders = []
    real = BoundField.as_field_group
    monkeypatch.setattr(BoundField, "as_field_group", lambda field: renders.append(field.name) or real(field))

    first = client.get(reverse("members:member_list"), query)
    rendered_first = len(renders)
    second = client.get(reverse("members:member_list"), {**query, "page": "1"})
    monkeypatch.setattr(MemberListView, "static_filter_form", False)
    plain = client.get(reverse("members:member_list"), query)

    assert rendered_first == len(first.context["filter"].form.fields)  # each field once
    assert len(renders) == 2 * rendered_first  # none for the second page, all again for the plain rendering
    assert first.context["filter_form_html"] == second.context["filter_form_html"]
    form_html = first.context["filter_form_html"]
    assert form_html in plain.content.decode()
    assert 'value="&lt;b&gt;ruiz"' in form_html
    assert 'name="deleted"' in form_html  # officers may restore members: their form has the switch


def test_member_list_filter_form_of_a_role_without_the_deleted_switch_is_kept_apart(role_client):
    from ip2a import views as ip2a_views

    ip2a_views._filter_forms.clear()
    role_client("officer").get(reverse("members:member_list"))

    staff_page = role_client("staff").get(reverse("members:member_list")).content.decode()

    assert 'name="deleted"' not in staff_page


def test_member_list_reads_its_rows_and_current_employers_in_one_query(role_client):
    """The page's rows come with their current employer from one query (Member.list_page), not a prefetch:
    the employer of the current job is shown, an ended job's is not, and a member without a job gets a dash."""
    current = MemberEmploymentFactory(start_date=START)
    ended = MemberEmploymentFactory(start_date=START, end_date=START + dt.timedelta(days=30))
    client = role_client("read_only")
    client.get(reverse("members:member_list"))  # warm-up: the session renewal write happens once a minute
    cache.clear()  # nothing kept: the page is read and rendered in full

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("members:member_list"))

    # The check statement of a page kept by content (ip2a.content) digests the same rows: it reads no job.
    reads = [query["sql"] for query in queries.captured_queries if "md5(string_agg(" not in query["sql"]]
    jobs_read = [sql for sql in reads if '"members_memberemployment"' in sql]
    html = response.content.decode()
    assert len(jobs_read) == 1
    assert f'<a href="/organizations/{current.organization.pk}/">{current.organization.name}</a>' in html
    assert ended.organization.name not in html
    assert html.count("<td>—</td>") == 1  # the member whose job ended


def test_member_list_page_rows_follow_the_sort_order(role_client):
    """Member.list_page reads the page's members by id, so it orders them again as the list is sorted."""
    numbers = ["5000001", "5000003", "5000002"]
    for number in numbers:
        MemberFactory(member_number=number)

    response = role_client("read_only").get(reverse("members:member_list"), {"sort": "-number"})

    assert [member.member_number for member in response.context["object_list"]] == sorted(numbers, reverse=True)
