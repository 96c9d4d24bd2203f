"""The audit pages: the global history log, the per-record history tabs and the access log."""

import csv
import datetime as dt
import io
import uuid

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from attachments.factories import AttachmentFactory
from audit import timeline, views
from audit.factories import AccessLogFactory
from audit.history import history_context, os_username
from audit.models import AccessLog
from audit.views import MAX_PAGES
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member, MemberStatus
from organizations.factories import EmployerFactory, OrganizationContactFactory, OrganizationFactory
from organizations.models import Organization
from training.factories import (
    AttendanceFactory,
    ClassSessionFactory,
    CohortInstructorFactory,
    CredentialFactory,
    EnrollmentFactory,
    JATCApplicationFactory,
    StudentFactory,
)

pytestmark = pytest.mark.django_db

HISTORY_URL = reverse("audit:history_list")
ACCESS_URL = reverse("audit:accesslog_list")


def today():
    return timezone.localdate()


def history_url(name, obj):
    return reverse(name, args=[obj.pk])


def rows(response):
    return [(entry.what, entry.record) for entry in response.context["entries"]]


# --- Who may open what ------------------------------------------------------------------------------------

PAGES = {
    "history_list": (lambda: HISTORY_URL, {"admin", "officer"}),
    "history_export": (lambda: HISTORY_URL + "?export=csv", {"admin", "officer"}),
    "accesslog_list": (lambda: ACCESS_URL, {"admin"}),
    "accesslog_export": (lambda: ACCESS_URL + "?export=xlsx", {"admin"}),
    "member_history": (
        lambda: history_url("members:member_history", MemberFactory()),
        {"admin", "officer", "staff"},
    ),
    "organization_history": (
        lambda: history_url("organizations:organization_history", OrganizationFactory()),
        {"admin", "officer", "staff", "organizer"},
    ),
}


@pytest.mark.parametrize("page", PAGES)
def test_audit_pages_answer_each_role_as_its_permissions_say(role_client, any_role, page):
    url, allowed = PAGES[page]

    response = role_client(any_role).get(url())

    assert response.status_code == (200 if any_role in allowed else 403)


def test_audit_pages_send_anonymous_users_to_the_login_page(client):
    response = client.get(HISTORY_URL)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_record_history_of_a_missing_record_is_not_found(role_client):
    response = role_client("officer").get(reverse("members:member_history", args=[999_999]))

    assert response.status_code == 404


def test_record_history_of_a_deleted_member_is_shown_to_an_officer(role_client):
    member = MemberFactory()
    member.soft_delete(reason="duplicate")

    response = role_client("officer").get(history_url("members:member_history", member))

    assert response.status_code == 200
    assert [(e.what, e.reason) for e in response.context["entries"]][0] == ("Member deleted", "duplicate")


def test_record_history_of_a_deleted_member_is_not_found_for_staff(role_client):
    member = MemberFactory()
    member.soft_delete(reason="duplicate")
    client = role_client("staff")  # may not restore members, so the member page is not found either

    response = client.get(history_url("members:member_history", member))

    assert response.status_code == 404


def test_record_history_of_a_deleted_organization_is_not_found_for_an_organizer(role_client):
    organization = OrganizationFactory()
    organization.soft_delete(reason="closed")

    response = role_client("organizer").get(history_url("organizations:organization_history", organization))

    assert response.status_code == 404


# --- The global log ---------------------------------------------------------------------------------------


def test_history_log_lists_every_tracked_table_with_who_source_and_reason(role_client):
    member = MemberFactory(first_name="Ana", last_name="Ruiz")
    with history_context(source="import", reason="spring import", request_id="abc"):
        Member.objects.filter(pk=member.pk).update(status=MemberStatus.INACTIVE)

    response = role_client("officer").get(HISTORY_URL)

    [latest, *_] = response.context["entries"]
    assert (latest.who, latest.source, latest.action, latest.record_type, latest.reason) == (
        f"os:{os_username()}",
        "import",
        "changed",
        "member",
        "spring import",
    )
    assert latest.changes == [("Status", "Active", "Inactive")]
    content = response.content.decode()
    assert f'<a href="/members/{member.pk}/">{member}</a>' in content
    assert "<td>Import</td>" in content
    assert "<td>spring import</td>" in content


def test_history_log_shows_soft_delete_and_restore_as_deleted_and_restored(role_client):
    organization = OrganizationFactory(name="Bolt Co")
    organization.soft_delete(reason="closed")
    organization.restore(reason="reopened")

    response = role_client("officer").get(HISTORY_URL, {"record_type": "organizations.organization"})

    entries = response.context["entries"]
    assert [(e.action, e.reason, e.changes) for e in entries[:2]] == [
        ("restored", "reopened", []),
        ("deleted", "closed", []),
    ]
    assert (entries[2].action, entries[2].changes[-2:]) == (
        "created",
        [("Name", "", "Bolt Co"), ("Type", "", "Employer")],
    )


def test_history_log_shows_choice_labels_and_related_records_as_text(role_client):
    job = MemberEmploymentFactory(organization=EmployerFactory(name="Bolt Co"), job_title="Wireman")
    job.organization = EmployerFactory(name="Acme Electric")
    job.save()
    enrollment = EnrollmentFactory()
    enrollment.status = "in_progress"
    enrollment.save()

    response = role_client("admin").get(HISTORY_URL, {"action": "changed"})

    changes = {entry.record_type: entry.changes for entry in response.context["entries"]}
    assert changes["employment"] == [("Organization", "Bolt Co", "Acme Electric")]
    assert changes["enrollment"] == [("Status", "Enrolled", "In progress")]


def test_history_log_hides_updated_at_and_internal_fields(role_client):
    job = MemberEmploymentFactory(job_title="Wireman")
    job.end_date = today()
    job.save()  # also changes is_current and updated_at

    response = role_client("officer").get(HISTORY_URL, {"record_type": "members.memberemployment"})

    assert response.context["entries"][0].changes == [("End date", "", today().isoformat())]


def test_history_log_escapes_hostile_text_in_records_and_diffs(role_client):
    member = MemberFactory(first_name="Ana")
    Member.objects.filter(pk=member.pk).update(first_name="<script>alert(1)</script>")

    content = role_client("officer").get(HISTORY_URL).content.decode()

    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"user": "OFFICER-USER"}, {"Organization created: Mine"}),
        (
            {"record_type": "organizations.organization", "action": "created"},
            {"Organization created: Mine", "Organization created: Imported", "Organization created: Gone"},
        ),
        ({"source": "import"}, {"Organization created: Imported"}),
        ({"record_type": "members.member"}, {"Member created: M"}),
        ({"action": "deleted"}, {"Organization deleted: Gone"}),
        ({"action": "restored"}, set()),
    ],
)
def test_history_log_filters(role_client, params, expected):
    MemberFactory(first_name="M", last_name="M", member_number="70000001")
    gone = OrganizationFactory(name="Gone")
    Organization.all_objects.filter(pk=gone.pk).hard_delete()
    client = role_client("officer")
    client.post(reverse("organizations:organization_create"), {"name": "Mine", "org_type": "union"})
    # Last: the history context stays set until the transaction ends (each test is one transaction).
    with history_context(source="import"):
        OrganizationFactory(name="Imported")

    response = client.get(HISTORY_URL, params)

    found = {f"{what}: {record.split(' — ')[-1].split()[0]}" for what, record in rows(response)}
    assert response.status_code == 200
    assert found == expected


def test_history_log_filters_by_record_id_and_request_id(role_client):
    client = role_client("officer")
    first, second = OrganizationFactory(name="First"), OrganizationFactory(name="Second")
    request_id = str(uuid.uuid4())
    with history_context(source="web", request_id=request_id):
        Organization.objects.filter(pk=second.pk).update(notes="changed by one request")
        MemberFactory(first_name="Same", last_name="Request")

    by_record = client.get(HISTORY_URL, {"record_type": "organizations.organization", "record_id": first.pk})
    by_request = client.get(HISTORY_URL, {"request_id": request_id})

    assert rows(by_record) == [("Organization created", "First")]
    assert {what for what, _record in rows(by_request)} == {"Organization changed", "Member created"}


def test_history_log_filters_by_date_range(role_client):
    OrganizationFactory(name="Today")
    client = role_client("officer")
    day = today()

    kind = {"record_type": "organizations.organization"}

    inside = client.get(HISTORY_URL, {**kind, "date_after": day.isoformat(), "date_before": day.isoformat()})
    after = client.get(HISTORY_URL, {**kind, "date_after": (day + dt.timedelta(days=1)).isoformat()})
    before = client.get(HISTORY_URL, {**kind, "date_before": (day - dt.timedelta(days=1)).isoformat()})

    assert rows(inside) == [("Organization created", "Today")]
    assert (rows(after), rows(before)) == ([], [])


@pytest.mark.parametrize("params", [{"request_id": "not-a-uuid"}, {"date_after": "2026-02-30"}, {"action": "x"}])
def test_history_log_refuses_malformed_filters(role_client, params):
    response = role_client("officer").get(HISTORY_URL, params)

    assert response.status_code == 400
    assert response.context["entries"] == []


def test_history_log_filters_up_to_the_last_representable_day(role_client):
    OrganizationFactory(name="Today")

    response = role_client("officer").get(
        HISTORY_URL, {"record_type": "organizations.organization", "date_before": "9999-12-31"}
    )

    assert response.status_code == 200
    assert rows(response) == [("Organization created", "Today")]


def test_history_log_hides_user_accounts_from_an_officer(role_client):
    from django.contrib.auth.models import User

    User.objects.create_user("clerk", email="clerk@example.org")
    client = role_client("officer")  # users and roles are the admin's (DOMAIN.md §5)

    everything = client.get(HISTORY_URL)
    users_only = client.get(HISTORY_URL, {"record_type": "audit.trackeduser"})

    assert [entry.record for entry in everything.context["entries"] if entry.model_label == "audit.trackeduser"] == []
    assert users_only.status_code == 400


def test_history_log_paginates_lazily(role_client, django_assert_max_num_queries):
    organization = OrganizationFactory()
    for n in range(60):
        Organization.objects.filter(pk=organization.pk).update(notes=f"note {n}")
    client = role_client("officer")

    kind = {"record_type": "organizations.organization"}

    first = client.get(HISTORY_URL, kind)
    second = client.get(HISTORY_URL, {**kind, "page": 2})

    assert (len(first.context["entries"]), first.context["has_next"]) == (50, True)
    assert (len(second.context["entries"]), second.context["has_next"]) == (11, False)
    assert second.context["entries"][-1].action == "created"
    assert first.context["entries"][0].changes == [("Notes", "note 58", "note 59")]
    assert client.get(HISTORY_URL, {"page": MAX_PAGES + 1}).status_code == 404
    assert client.get(HISTORY_URL, {"page": "x"}).status_code == 404


def make_events_in_every_table():
    """One or more events in each tracked domain table, many with foreign keys to show as text."""
    job = MemberEmploymentFactory()
    AttachmentFactory(target_obj=job.member)
    OrganizationContactFactory()
    assignment = CohortInstructorFactory()
    session = ClassSessionFactory(cohort=assignment.cohort)
    enrollment = EnrollmentFactory(cohort=assignment.cohort)
    AttendanceFactory(session=session, student=enrollment.student)
    CredentialFactory(student=enrollment.student)
    JATCApplicationFactory(student=enrollment.student)
    return job


def test_history_log_page_of_50_runs_a_fixed_number_of_queries(role_client, django_assert_max_num_queries):
    for _ in range(4):
        job = make_events_in_every_table()
        job.job_title = "Changed"
        job.save()
    client = role_client("officer")
    client.get(HISTORY_URL)  # warm-up: session renewal, content types

    # session, user, 2 permission queries; events of all 16 tables (one statement), the event before each
    # update (one), related records (two rounds: e.g. attendance → session → cohort)
    with django_assert_max_num_queries(7):
        response = client.get(HISTORY_URL)

    assert len(response.context["entries"]) == 50
    assert len({entry.model_label for entry in response.context["entries"]}) >= 10


def test_history_log_answers_htmx_with_the_table_only(role_client):
    OrganizationFactory(name="Bolt Co")

    response = role_client("officer").get(HISTORY_URL, headers={"HX-Request": "true"})

    content = response.content.decode()
    assert "Bolt Co" in content
    assert "<form" not in content
    assert response["Vary"] == "HX-Request, Cookie"


# --- Export -----------------------------------------------------------------------------------------------


def streamed(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_history_export_holds_the_filtered_rows_and_is_access_logged(role_client):
    organization = OrganizationFactory(name="=HYPERLINK(1)", org_type="union")
    Organization.objects.filter(pk=organization.pk).update(org_type="jatc")
    MemberFactory()  # not exported: another record type
    client = role_client("officer")

    response = client.get(HISTORY_URL, {"record_type": "organizations.organization", "export": "csv"})

    assert response["Content-Disposition"] == 'attachment; filename="history-log.csv"'
    assert response.streaming
    table = list(csv.DictReader(io.StringIO(streamed(response))))
    assert [(row["action"], row["record_type"], row["record"], row["changes"]) for row in table] == [
        ("changed", "organization", "'=HYPERLINK(1)", "Type: Union → JATC"),
        ("created", "organization", "'=HYPERLINK(1)", "City: Seattle; State: WA; Name: =HYPERLINK(1); Type: Union"),
    ]
    assert [row["record_id"] for row in table] == [str(organization.pk)] * 2
    log = AccessLog.objects.get()
    assert (log.action, log.row_count, log.object_repr, log.username) == ("export", 2, "History log", "officer-user")
    assert log.query == "record_type=organizations.organization&export=csv"


def test_history_export_streamed_in_chunks_is_the_file_written_at_once(role_client, monkeypatch):
    """EXPORT_CHUNK events at a time give the same text as the whole export described and written at once
    (the column names once, every diff against the event before it even across chunks)."""
    organization = OrganizationFactory(name="Bolt Co", org_type="union")
    Organization.objects.filter(pk=organization.pk).update(org_type="jatc")
    OrganizationFactory(name="Amp Co")
    Organization.objects.filter(pk=organization.pk).update(name="Bolt & Sons")
    query = {"record_type": "organizations.organization", "export": "csv"}
    client = role_client("admin")
    whole = streamed(client.get(HISTORY_URL, query))

    monkeypatch.setattr(views, "EXPORT_CHUNK", 1)
    chunks = list(client.get(HISTORY_URL, query).streaming_content)

    assert len(chunks) == 4
    assert b"".join(chunks).decode() == whole
    assert whole.count("record_type") == 1
    assert "Name: Bolt Co → Bolt & Sons" in whole


def test_history_export_holds_what_was_written_before_it_began_and_logs_that_count(role_client):
    OrganizationFactory(name="Before Co")
    response = role_client("officer").get(HISTORY_URL, {"record_type": "organizations.organization", "export": "csv"})
    OrganizationFactory(name="After Co")  # written while the file is being sent

    table = list(csv.DictReader(io.StringIO(streamed(response))))

    assert [row["record"] for row in table] == ["Before Co"]
    assert AccessLog.objects.get().row_count == 1


def test_history_export_says_when_it_leaves_older_rows_out(role_client, monkeypatch):
    monkeypatch.setattr(views, "EXPORT_LIMIT", 1)
    OrganizationFactory(name="Older Co")
    OrganizationFactory(name="Newer Co")

    response = role_client("officer").get(HISTORY_URL, {"record_type": "organizations.organization", "export": "csv"})

    assert response["X-Export-Truncated"] == "only the newest 1 rows"
    assert [row["record"] for row in csv.DictReader(io.StringIO(streamed(response)))] == ["Newer Co"]
    assert AccessLog.objects.get().row_count == 1


def test_an_empty_history_export_holds_the_column_names(role_client):
    response = role_client("officer").get(HISTORY_URL, {"record_type": "organizations.organization", "export": "csv"})

    assert streamed(response).splitlines() == [
        "time,user,source,action,record_type,record_id,record,changes,reason,request_id"
    ]
    assert AccessLog.objects.get().row_count == 0


def test_history_export_filtered_by_action_counts_and_streams_only_that_action(role_client):
    organization = OrganizationFactory(name="Bolt Co", org_type="union")
    Organization.objects.filter(pk=organization.pk).update(org_type="jatc")
    OrganizationFactory(name="Amp Co")
    query = {"record_type": "organizations.organization", "action": "changed", "export": "csv"}

    response = role_client("officer").get(HISTORY_URL, query)

    table = list(csv.DictReader(io.StringIO(streamed(response))))
    assert [(row["action"], row["record"]) for row in table] == [("changed", "Bolt Co")]
    assert AccessLog.objects.get().row_count == 1


def test_an_error_while_the_export_streams_is_logged_and_ends_the_download(role_client, monkeypatch, caplog):
    OrganizationFactory(name="Bolt Co")
    OrganizationFactory(name="Amp Co")
    monkeypatch.setattr(views, "EXPORT_CHUNK", 1)
    described = []

    def build_entries(events, *, user):
        if described:
            raise RuntimeError("the replica went away")
        described.append(events)
        return timeline.build_entries(events, user=user)

    monkeypatch.setattr(views, "build_entries", build_entries)
    response = role_client("officer").get(HISTORY_URL, {"record_type": "organizations.organization", "export": "csv"})
    chunks = response.streaming_content

    assert "Amp Co" in next(chunks).decode()
    with pytest.raises(RuntimeError):
        next(chunks)
    assert "The history export for officer-user failed after 1 rows." in caplog.text


def test_history_export_as_xlsx(role_client):
    OrganizationFactory(name="Bolt Co")

    response = role_client("admin").get(HISTORY_URL, {"record_type": "organizations.organization", "export": "xlsx"})

    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = list(sheet.values)
    assert values[0][:5] == ("time", "user", "source", "action", "record_type")
    assert [row[6] for row in values[1:]] == ["Bolt Co"]


def test_history_spreadsheet_written_in_chunks_holds_the_rows_of_the_csv(role_client, monkeypatch):
    """EXPORT_CHUNK events at a time: every row, in order, with the CSV's values; the column names in bold and
    frozen above them; a character a spreadsheet cannot hold is dropped instead of failing the export."""
    organization = OrganizationFactory(name="Bolt\x07 Co", org_type="union")
    Organization.objects.filter(pk=organization.pk).update(org_type="jatc")
    OrganizationFactory(name="Amp Co")
    query = {"record_type": "organizations.organization"}
    client = role_client("admin")
    monkeypatch.setattr(views, "EXPORT_CHUNK", 1)

    response = client.get(HISTORY_URL, {**query, "export": "xlsx"})
    csv_rows = list(csv.reader(io.StringIO(streamed(client.get(HISTORY_URL, {**query, "export": "csv"})))))

    assert response["Content-Disposition"] == 'attachment; filename="history-log.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = [["" if value is None else str(value) for value in row] for row in sheet.values]
    assert values == [[value.replace("\x07", "") for value in row] for row in csv_rows]
    assert [row[6] for row in values[1:]] == ["Amp Co", "Bolt Co", "Bolt Co"]
    assert (sheet.freeze_panes, sheet["A1"].font.b) == ("A2", True)
    assert AccessLog.objects.filter(action="export").count() == 2


def test_history_export_is_refused_without_the_permission(role_client):
    response = role_client("staff").get(HISTORY_URL, {"export": "csv"})

    assert response.status_code == 403
    assert not AccessLog.objects.exists()


# --- Per-record history -----------------------------------------------------------------------------------


def test_member_history_merges_the_member_its_jobs_and_their_attachments(role_client):
    job = MemberEmploymentFactory(organization=EmployerFactory(name="Bolt Co"), job_title="Wireman")
    AttachmentFactory(target_obj=job.member, original_name="card.pdf")
    AttachmentFactory(target_obj=job, original_name="referral.pdf")
    MemberEmploymentFactory()  # another member's job

    response = role_client("staff").get(history_url("members:member_history", job.member))

    assert sorted(what for what, _record in rows(response)) == [
        "Attachment created",
        "Attachment created",
        "Employment created",
        "Member created",
    ]
    records = {record for _what, record in rows(response)}
    assert f"card.pdf (on {job.member})" in records
    assert f"referral.pdf (on {job})" in records


def test_member_history_keeps_deleted_jobs(role_client):
    job = MemberEmploymentFactory()
    member = job.member
    job.delete(reason="entered twice")

    response = role_client("officer").get(history_url("members:member_history", member))

    [latest, *_] = response.context["entries"]
    assert (latest.what, latest.reason) == ("Employment deleted", "entered twice")


def test_organization_history_merges_its_contacts_for_an_organizer(role_client):
    contact = OrganizationContactFactory(first_name="Carl", last_name="Cole")
    OrganizationContactFactory()  # another organization's contact

    response = role_client("organizer").get(history_url("organizations:organization_history", contact.organization))

    assert sorted(rows(response)) == [
        ("Organization contact created", "Carl Cole"),
        ("Organization created", str(contact.organization)),
    ]


def test_member_history_page_runs_a_fixed_number_of_queries(role_client, django_assert_max_num_queries):
    job = MemberEmploymentFactory()
    for n in range(30):
        other = MemberEmploymentFactory(
            member=job.member, start_date=dt.date(1990 + n, 1, 1), end_date=dt.date(1990 + n, 6, 1)
        )
        other.job_title = f"Title {n}"
        other.save()
        AttachmentFactory(target_obj=other)
    client = role_client("staff")
    url = history_url("members:member_history", job.member)
    client.get(url)

    # session, user, 2 permission queries, member, user's roles (attachment rule); events, previous events,
    # related records (two rounds)
    with django_assert_max_num_queries(10):
        response = client.get(url)

    assert len(response.context["entries"]) == 50
    assert response.context["has_next"] is True


def test_record_history_view_serves_a_student_with_its_training_records(rf, make_user):
    from django_htmx.middleware import HtmxDetails

    from audit.views import RecordHistoryView
    from training.models import Student

    enrollment = EnrollmentFactory()
    AttendanceFactory(student=enrollment.student, session=ClassSessionFactory(cohort=enrollment.cohort))
    CredentialFactory(student=enrollment.student)
    JATCApplicationFactory(student=enrollment.student)
    AttachmentFactory(target_obj=enrollment, original_name="form.pdf")
    EnrollmentFactory()  # another student's
    request = rf.get("/training/students/1/history/")
    request.user, request.htmx = make_user("staff"), None
    request.htmx = HtmxDetails(request)

    response = RecordHistoryView.as_view(model=Student)(request, pk=enrollment.student.pk)

    assert response.status_code == 200
    assert sorted(entry.what for entry in response.context_data["entries"]) == [
        "Attachment created",
        "Attendance created",
        "Credential created",
        "Enrollment created",
        "JATC application created",
        "Student created",
    ]


def test_record_history_view_refuses_an_instructor_a_student(rf, make_user):
    from django.core.exceptions import PermissionDenied

    from audit.views import RecordHistoryView
    from training.models import Student

    request = rf.get("/")
    request.user = make_user("instructor")

    with pytest.raises(PermissionDenied):
        RecordHistoryView.as_view(model=Student)(request, pk=StudentFactory().pk)


# --- The member page's recent activity --------------------------------------------------------------------


def test_member_page_links_its_history_for_staff_but_not_read_only(role_client):
    member = MemberFactory()
    url = history_url("members:member_history", member)

    staff_page = role_client("staff").get(member.get_absolute_url()).content.decode()

    assert f'href="{url}"' in staff_page


def test_member_page_shows_no_history_link_to_read_only(role_client):
    member = MemberFactory()

    page = role_client("read_only").get(member.get_absolute_url()).content.decode()

    assert history_url("members:member_history", member) not in page


def test_member_page_recent_activity_hides_member_attachments_from_an_organizer(role_client):
    member = MemberFactory()
    AttachmentFactory(target_obj=member, original_name="secret.pdf")

    response = role_client("organizer").get(member.get_absolute_url())

    assert [entry.what for entry in response.context["recent_activity"]] == ["Member created"]


# --- The access log ---------------------------------------------------------------------------------------


def test_access_log_lists_newest_first_with_filters(role_client, make_user):
    AccessLogFactory(username="ana", action="view", object_repr="Member 1 — Ana")
    AccessLogFactory(username="bob", action="export", object_repr="Members list")
    client = role_client("admin")

    everything = client.get(ACCESS_URL)
    by_user = client.get(ACCESS_URL, {"user": "ANA"})
    by_action = client.get(ACCESS_URL, {"action": "export"})

    assert [log.username for log in everything.context["object_list"]] == ["bob", "ana"]
    assert [log.username for log in by_user.context["object_list"]] == ["ana"]
    assert [log.username for log in by_action.context["object_list"]] == ["bob"]


def test_access_log_filters_by_record_type_and_date(role_client):
    from django.contrib.contenttypes.models import ContentType

    member_type = ContentType.objects.get_for_model(Member)
    AccessLogFactory(username="ana", target_type=member_type, target_id=1)
    AccessLogFactory(username="bob")
    client = role_client("admin")
    day = today()

    by_type = client.get(ACCESS_URL, {"target_type": member_type.pk})
    in_range = client.get(ACCESS_URL, {"date_after": day.isoformat(), "date_before": day.isoformat()})
    later = client.get(ACCESS_URL, {"date_after": (day + dt.timedelta(days=1)).isoformat()})

    assert [log.username for log in by_type.context["object_list"]] == ["ana"]
    assert {log.username for log in in_range.context["object_list"]} == {"ana", "bob"}
    assert list(later.context["object_list"]) == []


def test_access_log_filters_up_to_the_last_representable_day(role_client):
    AccessLogFactory(username="ana")

    response = role_client("admin").get(ACCESS_URL, {"date_before": "9999-12-31"})

    assert response.status_code == 200
    assert [log.username for log in response.context["object_list"]] == ["ana"]


def test_access_log_list_runs_a_fixed_number_of_queries(role_client, django_assert_max_num_queries):
    from django.contrib.contenttypes.models import ContentType

    member_type = ContentType.objects.get_for_model(Member)
    for n in range(60):
        AccessLogFactory(username=f"user{n}", target_type=member_type, target_id=n)
    client = role_client("admin")
    client.get(ACCESS_URL)

    # session, user, 2 permission queries, the record types of the filter form, count probe, count, page (with
    # content types joined)
    with django_assert_max_num_queries(8):
        response = client.get(ACCESS_URL)

    assert len(response.context["object_list"]) == 50


def test_access_log_export_is_itself_logged(role_client):
    AccessLogFactory(username="ana", action="download", object_repr="card.pdf")
    client = role_client("admin")

    response = client.get(ACCESS_URL, {"export": "csv"})

    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(row["username"], row["action"], row["object_repr"]) for row in table] == [("ana", "download", "card.pdf")]
    log = AccessLog.objects.latest("pk")
    assert (log.action, log.row_count, log.object_repr, log.username) == ("export", 1, "Access log list", "admin-user")


def test_access_log_links_admins_to_the_history_of_a_request(role_client):
    AccessLogFactory(request_id="3f2b8c1e-0000-4000-8000-000000000001")

    content = role_client("admin").get(ACCESS_URL).content.decode()

    assert f"{HISTORY_URL}?request_id=3f2b8c1e-0000-4000-8000-000000000001" in content
    assert f'href="{ACCESS_URL}"' in content


def test_history_log_shows_user_changes_without_passwords(role_client):
    from django.contrib.auth.models import User

    user = User.objects.create_user("clerk", password="first-password")
    user.set_password("second-password")
    user.email = "clerk@example.org"
    user.save()

    response = role_client("admin").get(HISTORY_URL, {"record_type": "audit.trackeduser", "record_id": user.pk})

    assert [(e.what, e.record, e.changes) for e in response.context["entries"]][0] == (
        "User changed",
        "clerk",
        [("Email address", "", "clerk@example.org")],
    )


def test_organization_page_links_its_history_for_an_organizer(role_client):
    organization = OrganizationFactory()

    page = role_client("organizer").get(organization.get_absolute_url()).content.decode()

    assert f'href="{history_url("organizations:organization_history", organization)}"' in page


def test_recent_activity_tag_renders_a_students_panel_escaped(rf, make_user):
    from django.template import Context, Template

    enrollment = EnrollmentFactory(student=StudentFactory(first_name="Mia"))
    student = enrollment.student
    student.first_name = "<script>x</script>"
    student.save()
    request = rf.get("/")
    request.user = make_user("staff")

    html = Template("{% load history %}{% recent_activity student %}").render(
        Context({"student": student, "request": request})
    )

    assert "Recent activity" in html
    assert "Enrollment created" in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<script>x" not in html
