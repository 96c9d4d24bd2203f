"""Imports from the portal (ip2a.imports): file checks, the preview, the all-or-nothing confirm, its history
and who may import."""

import datetime
import io

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook

from audit.history import history_context
from ip2a import imports
from ip2a.imports import MAX_BYTES, MAX_ROWS, ImportRefused, import_history, read_upload
from members.factories import MemberFactory
from members.models import Member, MemberEmployment
from members.resources import MemberResource
from organizations.factories import EmployerFactory, OrganizationContactFactory, OrganizationFactory
from organizations.models import Organization, OrganizationContact
from training.factories import StudentFactory
from training.models import Student

pytestmark = pytest.mark.django_db

MEMBERS_URL = "/members/import/"
HEADER = "member_number,first_name,last_name,phone,status,classification\n"
GOOD_ROWS = (
    "7100001,Ana,Ruiz,,active,journeyman\n"
    "7100002,Ben,Cho,206 555 0101,active,foreman\n"
    "7100003,Cy,Diaz,,inactive,apprentice_1\n"
    "7100004,Dee,Eng,,active,journeyman\n"
)
NUMBER_FORMAT = "A member number is 5 to 10 digits, with at most one letter before or after."
NOTHING_IMPORTED = "fix the file and upload again; nothing was imported"


def csv_file(text: str | bytes, name: str = "members.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode() if isinstance(text, str) else text, content_type="text/csv")


def preview(client, text, name="members.csv", url=MEMBERS_URL):
    return client.post(url, {"file": csv_file(text, name)})


def confirm(client, previewed, url=MEMBERS_URL):
    return client.post(url, {"token": previewed.context["token"]})


def statuses(response) -> list[tuple[int, str]]:
    return [(row.number, row.status) for row in response.context["report"].rows]


def form_errors(response) -> list[str]:
    form = response.context["form"]
    return [str(error) for errors in form.errors.values() for error in errors]


# --- Reading the file ----------------------------------------------------------------------------------------


def test_read_upload_accepts_a_byte_order_mark():
    upload = read_upload(name="m.csv", data=("\ufeff" + HEADER + GOOD_ROWS).encode(), resource_class=MemberResource)

    assert upload.dataset.headers[0] == "member_number"
    assert upload.dataset[0][0] == "7100001"


def test_read_upload_refuses_latin1_with_the_line_of_the_bad_byte():
    data = (HEADER + "7100001,José,Ruiz,,active,journeyman\n").encode("latin-1")

    with pytest.raises(ImportRefused) as refused:
        read_upload(name="m.csv", data=data, resource_class=MemberResource)

    assert str(refused.value) == (
        "The file is not UTF-8 text: line 2 holds the byte 0xE9, which UTF-8 does not allow. "
        "Save it as “CSV UTF-8” (comma-separated) and upload it again; nothing was imported."
    )


def test_read_upload_accepts_exactly_the_row_limit():
    rows = "".join(f"{7_200_000 + n},A,B,,active,journeyman\n" for n in range(MAX_ROWS))

    upload = read_upload(name="m.csv", data=(HEADER + rows).encode(), resource_class=MemberResource)

    assert len(upload.dataset) == MAX_ROWS


def test_read_upload_numbers_rows_as_a_spreadsheet_does_skipping_blank_ones():
    data = HEADER + "7100001,Ana,Ruiz,,active,journeyman\n,,,,,\n\n7100002,Ben,Cho,,active,journeyman\n"

    upload = read_upload(name="m.csv", data=data.encode(), resource_class=MemberResource)

    assert upload.row_numbers == [2, 5]


def test_read_upload_matches_column_names_case_insensitively_and_trims_cells():
    data = "Member_Number , FIRST_NAME,last_name,classification\n 7100001 , Ana ,Ruiz,journeyman\n"

    upload = read_upload(name="m.csv", data=data.encode(), resource_class=MemberResource)

    assert upload.dataset.dict == [
        {"member_number": "7100001", "first_name": "Ana", "last_name": "Ruiz", "classification": "journeyman"}
    ]


def test_read_upload_refuses_a_row_wider_than_the_header():
    data = HEADER + "7100001,Ana,Ruiz,,active,journeyman,surprise\n"

    with pytest.raises(ImportRefused, match="Row 2 has more cells than the first row has columns"):
        read_upload(name="m.csv", data=data.encode(), resource_class=MemberResource)


def test_read_upload_reads_xlsx_dates_and_whole_numbers():
    workbook = Workbook()
    workbook.active.append(["member_number", "first_name", "last_name", "classification", "join_date"])
    workbook.active.append([7100001, "Ana", "Ruiz", "journeyman", datetime.datetime(2019, 4, 1)])
    buffer = io.BytesIO()
    workbook.save(buffer)

    upload = read_upload(name="m.xlsx", data=buffer.getvalue(), resource_class=MemberResource)

    assert upload.dataset[0] == (7100001, "Ana", "Ruiz", "journeyman", datetime.date(2019, 4, 1))


# --- Refusals before any row is processed ---------------------------------------------------------------


def test_import_refuses_latin1_before_processing_with_the_message(staff_client, imports_dir):
    response = preview(staff_client, (HEADER + "7100001,José,Ruiz,,active,journeyman\n").encode("latin-1"))

    assert response.status_code == 400
    assert form_errors(response) == [
        "The file is not UTF-8 text: line 2 holds the byte 0xE9, which UTF-8 does not allow. "
        "Save it as “CSV UTF-8” (comma-separated) and upload it again; nothing was imported."
    ]
    assert not Member.all_objects.exists()
    assert not imports_dir.exists()  # nothing kept for a confirmation


def test_import_refuses_a_file_over_10_mb(staff_client):
    big = (HEADER + "7100001,Ana,Ruiz,,active,journeyman\n").encode().ljust(MAX_BYTES + 1, b"\n")

    response = preview(staff_client, big)

    assert response.status_code == 400
    assert form_errors(response) == [
        "The file is 10,485,761 bytes; the limit is 10 MB (10,485,760 bytes). "
        "Split it into smaller files. Nothing was imported."
    ]
    assert not Member.all_objects.exists()


def test_import_refuses_more_than_20000_rows(staff_client):
    rows = "".join(f"{7_200_000 + n},A,B,,active,journeyman\n" for n in range(MAX_ROWS + 1))

    response = preview(staff_client, HEADER + rows)

    assert response.status_code == 400
    assert form_errors(response) == [
        "The file has more than 20,000 rows; split it into smaller files. Nothing was imported."
    ]
    assert not Member.all_objects.exists()


def test_import_refuses_a_file_missing_required_columns(staff_client):
    response = preview(staff_client, "member_number,first_name\n7100001,Ana\n")

    assert response.status_code == 400
    assert form_errors(response) == [
        "The file lacks the required columns last_name, classification. The first row must name the columns; "
        "an export of the list has them. Nothing was imported."
    ]


def test_import_refuses_other_file_types(staff_client):
    response = preview(staff_client, HEADER + GOOD_ROWS, name="members.txt")

    assert response.status_code == 400
    assert form_errors(response) == [
        f"“members.txt” is neither a .csv nor an .xlsx file. {NOTHING_IMPORTED.capitalize()}."
    ]


def test_import_refuses_an_xlsx_that_is_no_workbook(staff_client):
    response = preview(staff_client, HEADER + GOOD_ROWS, name="members.xlsx")

    assert response.status_code == 400
    assert form_errors(response) == [f"The file is not a readable .xlsx workbook. {NOTHING_IMPORTED.capitalize()}."]


def test_import_ignores_extra_columns_with_a_notice(staff_client):
    response = preview(
        staff_client, "member_number,first_name,last_name,classification,shoe_size\n7100001,Ana,Ruiz,journeyman,9\n"
    )

    assert response.status_code == 200
    assert response.context["report"].notices == ["Ignored column this import does not use: shoe_size."]
    assert statuses(response) == [(2, "new")]


# --- Preview and confirm ----------------------------------------------------------------------------------


def test_import_preview_lists_each_row_status_with_errors_per_field_and_imports_nothing(staff_client):
    MemberFactory(member_number="7100001", first_name="Ana", last_name="Ruiz", phone="", classification="journeyman")
    ben = MemberFactory(member_number="7100002", first_name="Ben", last_name="Cho", phone="", classification="foreman")
    text = HEADER + (
        "7100001,Ana,Ruiz,,active,journeyman\n"
        "7100002,Ben,Cho,206 555 0101,active,foreman\n"
        "7100003,Cy,Diaz,,inactive,apprentice_1\n"
        "AB12,Dee,Eng,,active,journeyman\n"
        "7100005,Eve,Fox,,active,wizard\n"
    )

    response = preview(staff_client, text)

    assert response.status_code == 200
    report = response.context["report"]
    assert statuses(response) == [(2, "unchanged"), (3, "update"), (4, "new"), (5, "error"), (6, "error")]
    assert report.rows[1].changed == ["phone"]
    assert [row.errors for row in report.error_rows] == [
        [("row", NUMBER_FORMAT)],
        [("classification", "Value 'wizard' is not a valid choice.")],
    ]
    assert NOTHING_IMPORTED in response.content.decode()
    assert Member.all_objects.count() == 2
    ben.refresh_from_db()
    assert ben.phone == ""


def test_import_preview_reports_a_member_number_given_twice(staff_client):
    text = (
        HEADER
        + "7100001,Ana,Ruiz,,active,journeyman\n7100002,Ben,Cho,,active,foreman\n7100001,Ann,Ruiz,,active,journeyman\n"
    )

    response = preview(staff_client, text)

    assert statuses(response) == [(2, "new"), (3, "new"), (4, "error")]
    assert response.context["report"].rows[2].errors[0] == (
        "member_number",
        "member_number 7100001 is on row 2 too; give each once.",
    )


def test_import_summary_lists_only_the_rows_it_changed(staff_client):
    MemberFactory(member_number="7100001", first_name="Ana", last_name="Ruiz", phone="", classification="journeyman")
    previewed = preview(staff_client, HEADER + GOOD_ROWS)

    response = confirm(staff_client, previewed)

    assert [(row.number, row.status) for row in response.context["report"].changed_rows] == [
        (3, "new"),
        (4, "new"),
        (5, "new"),
    ]


def test_import_confirm_is_refused_while_rows_have_errors(staff_client):
    previewed = preview(
        staff_client, HEADER + "7100001,Ana,Ruiz,,active,journeyman\nAB12,Dee,Eng,,active,journeyman\n"
    )

    response = confirm(staff_client, previewed)

    assert response.status_code == 400
    assert response.context["refusal"] == f"The file has rows with errors. {NOTHING_IMPORTED.capitalize()}."
    assert not Member.all_objects.exists()


def test_import_confirm_imports_every_row_and_lists_them_with_the_request_id(staff_client):
    previewed = preview(staff_client, HEADER + GOOD_ROWS)

    response = confirm(staff_client, previewed)

    assert response.status_code == 200
    assert response.templates[0].name == "generic/import_done.html"
    report = response.context["report"]
    assert (report.imported, report.counts) == (True, {"new": 4, "update": 0, "unchanged": 0, "error": 0})
    assert sorted(Member.objects.values_list("member_number", flat=True)) == [
        "7100001",
        "7100002",
        "7100003",
        "7100004",
    ]
    ana = Member.objects.get(member_number="7100001")
    assert report.changed_rows[0].url == ana.get_absolute_url()
    assert response.context["request_id"] == response["X-Request-ID"]
    assert response["X-Request-ID"] in response.content.decode()


def test_import_failure_on_the_third_row_writes_nothing(staff_client, monkeypatch):
    previewed = preview(staff_client, HEADER + GOOD_ROWS)
    save, calls = Member.save, []

    def save_failing_on_third_row(self, *args, **kwargs):
        calls.append(self.member_number)
        if len(calls) == 3:
            raise DatabaseError("disk full")
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Member, "save", save_failing_on_third_row)

    response = confirm(staff_client, previewed)

    assert response.status_code == 400
    assert [(row.number, row.errors) for row in response.context["report"].error_rows] == [(4, [("row", "disk full")])]
    assert calls == ["7100001", "7100002", "7100003"]  # two rows saved, then the error rolled them back
    assert not Member.all_objects.exists()
    assert not Member.pgh_event_model.objects.exists()


def test_import_matches_member_numbers_case_insensitively_and_trimmed(staff_client):
    member = MemberFactory(member_number="A1234567", first_name="Ana", last_name="Ruiz")
    previewed = preview(staff_client, HEADER + " a1234567 ,Ana, Ruiz-Diaz ,,active,journeyman\n")

    response = confirm(staff_client, previewed)

    assert statuses(response) == [(2, "update")]
    member.refresh_from_db()
    assert member.last_name == "Ruiz-Diaz"
    assert Member.all_objects.count() == 1


def test_import_strips_the_apostrophe_of_formula_escaped_cells(staff_client):
    text = "member_number,first_name,last_name,phone,notes,classification\n" + (
        "7100001,Ana,Ruiz,'+1 206 555 0100,'=SUM(A1),journeyman\n"
    )
    previewed = preview(staff_client, text)

    confirm(staff_client, previewed)

    assert Member.objects.values_list("phone", "notes").get() == ("+1 206 555 0100", "=SUM(A1)")


def test_import_accepts_a_utf8_byte_order_mark(staff_client):
    previewed = preview(staff_client, "\ufeff" + HEADER + "7100001,José,Núñez,,active,journeyman\n")

    response = confirm(staff_client, previewed)

    assert response.status_code == 200
    assert Member.objects.values_list("first_name", "last_name").get() == ("José", "Núñez")


def test_import_reads_xlsx_files(staff_client):
    workbook = Workbook()
    workbook.active.append(["member_number", "first_name", "last_name", "classification", "join_date"])
    workbook.active.append([7100001, "Ana", "Ruiz", "journeyman", datetime.datetime(2019, 4, 1)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    previewed = staff_client.post(MEMBERS_URL, {"file": SimpleUploadedFile("members.xlsx", buffer.getvalue())})

    confirm(staff_client, previewed)

    assert Member.objects.values_list("member_number", "join_date").get() == ("7100001", datetime.date(2019, 4, 1))


# --- History ----------------------------------------------------------------------------------------------


def test_import_history_events_carry_source_import_the_file_name_and_the_user(staff_client):
    ben = MemberFactory(member_number="7100002", first_name="Ben", last_name="Cho", classification="foreman")
    previewed = preview(staff_client, HEADER + GOOD_ROWS, name="spring roll call.csv")
    user = User.objects.get(username="sam")

    response = confirm(staff_client, previewed)

    expected = {
        "source": "import",
        "reason": "spring roll call.csv",
        "user_id": user.pk,
        "username": "sam",
        "url": MEMBERS_URL,
        "ip": "127.0.0.1",
        "request_id": response["X-Request-ID"],
    }
    ana = Member.objects.get(member_number="7100001")
    assert ana.events.get(pgh_label="insert").pgh_context == expected
    assert ben.events.get(pgh_label="update").pgh_context == expected


def test_import_history_gives_the_outer_context_back_after_the_import():
    with history_context(source="web", url="/members/import/"):
        with import_history(reason="members.csv"):
            imported = MemberFactory()
        typed = MemberFactory()

    assert imported.events.get().pgh_context["source"] == "import"
    assert typed.events.get().pgh_context == {
        "source": "web",
        "url": "/members/import/",
        "reason": "",
        "user_id": None,
        "username": "",
    }


# --- Tokens -----------------------------------------------------------------------------------------------


def test_import_token_of_another_user_cannot_be_confirmed(staff_client, make_user):
    previewed = preview(staff_client, HEADER + GOOD_ROWS)
    other = Client()
    other.force_login(make_user("staff", username="other"))

    refused = confirm(other, previewed)
    mine = confirm(staff_client, previewed)

    assert refused.status_code == 404
    assert mine.status_code == 200
    assert Member.objects.count() == 4


def test_import_token_is_used_once(staff_client):
    previewed = preview(staff_client, HEADER + GOOD_ROWS)
    confirm(staff_client, previewed)
    Member.objects.update(phone="changed since")

    again = confirm(staff_client, previewed)

    assert again.status_code == 404
    assert set(Member.objects.values_list("phone", flat=True)) == {"changed since"}


def test_import_token_expires(staff_client, monkeypatch):
    previewed = preview(staff_client, HEADER + GOOD_ROWS)
    monkeypatch.setattr(imports, "PENDING_SECONDS", -1)

    response = confirm(staff_client, previewed)

    assert response.status_code == 404
    assert response.context["refusal"] == (
        "This preview is no longer available: it expired, was already imported, or is not yours. "
        "Upload the file again; nothing was imported."
    )
    assert not Member.objects.exists()


def test_import_token_of_another_kind_of_import_cannot_be_confirmed(staff_client):
    previewed = preview(staff_client, HEADER + GOOD_ROWS)

    response = staff_client.post("/organizations/import/", {"token": previewed.context["token"]})

    assert response.status_code == 404
    assert not Member.objects.exists()


def test_import_keeps_the_previewed_file_private(staff_client, imports_dir):
    previewed = preview(staff_client, HEADER + GOOD_ROWS)

    token = previewed.context["token"]
    assert oct(imports_dir.stat().st_mode & 0o777) == "0o700"
    assert oct((imports_dir / f"{token}.data").stat().st_mode & 0o777) == "0o600"


# --- Other kinds of rows ----------------------------------------------------------------------------------


def test_import_organizations_new_and_updated_by_id(staff_client):
    org = OrganizationFactory(name="Old Name", org_type="union")
    text = f"id,name,org_type,city\n,Acme Electric,employer,Tacoma\n{org.pk},New Name,union,Seattle\n"
    previewed = preview(staff_client, text, name="orgs.csv", url="/organizations/import/")

    response = confirm(staff_client, previewed, url="/organizations/import/")

    assert statuses(response) == [(2, "new"), (3, "update")]
    assert sorted(Organization.objects.values_list("name", flat=True)) == ["Acme Electric", "New Name"]


def test_import_refuses_an_id_that_matches_no_row(staff_client):
    text = "id,name,org_type\n,Acme Electric,employer\n999999,Sparks Inc,employer\n"
    previewed = preview(staff_client, text, name="orgs.csv", url="/organizations/import/")

    response = confirm(staff_client, previewed, url="/organizations/import/")

    assert statuses(previewed) == [(2, "new"), (3, "error")]
    assert previewed.context["report"].rows[1].errors == [
        ("id", "No organization has id 999999; leave id empty to add a new organization.")
    ]
    assert response.status_code == 400
    assert not Organization.all_objects.exists()


def test_import_contacts_reports_a_second_primary_contact_per_organization(staff_client):
    org = OrganizationFactory()
    text = f"organization,first_name,last_name,is_primary\n{org.pk},Ana,Ruiz,1\n{org.pk},Ben,Cho,1\n"

    response = preview(staff_client, text, name="contacts.csv", url="/organizations/contacts/import/")

    assert statuses(response) == [(2, "new"), (3, "error")]
    assert response.context["report"].rows[1].errors == [
        ("is_primary", "Another row of this file already makes a contact of this organization primary.")
    ]
    assert not OrganizationContact.objects.exists()


def test_import_contacts_makes_an_organizations_first_contact_primary(staff_client):
    org = OrganizationFactory()
    text = f"organization,first_name,last_name\n{org.pk},Ana,Ruiz\n{org.pk},Ben,Cho\n"
    previewed = preview(staff_client, text, name="contacts.csv", url="/organizations/contacts/import/")

    confirm(staff_client, previewed, url="/organizations/contacts/import/")

    assert list(org.contacts.order_by("pk").values_list("first_name", "is_primary")) == [
        ("Ana", True),
        ("Ben", False),
    ]


def test_import_contacts_demotes_the_previous_primary_like_make_primary(staff_client):
    old = OrganizationContactFactory(first_name="Old", is_primary=True)
    text = f"organization,first_name,last_name,is_primary\n{old.organization_id},New,Boss,1\n"
    previewed = preview(staff_client, text, name="contacts.csv", url="/organizations/contacts/import/")

    confirm(staff_client, previewed, url="/organizations/contacts/import/")

    assert list(old.organization.contacts.order_by("pk").values_list("first_name", "is_primary")) == [
        ("Old", False),
        ("New", True),
    ]


def test_import_contacts_of_an_organization(staff_client):
    contact = OrganizationContactFactory(first_name="Ana", last_name="Ruiz", title="")
    text = f"id,organization,first_name,last_name,title\n{contact.pk},{contact.organization_id},Ana,Ruiz,Owner\n"
    previewed = preview(staff_client, text, name="contacts.csv", url="/organizations/contacts/import/")

    confirm(staff_client, previewed, url="/organizations/contacts/import/")

    contact.refresh_from_db()
    assert contact.title == "Owner"


def test_import_employments_derives_is_current(staff_client):
    MemberFactory(member_number="7000777")
    employer = EmployerFactory()
    text = (
        "member,organization,start_date,end_date,job_title\n"
        f"7000777,{employer.pk},2019-01-07,2019-12-20,Apprentice wireman\n"
        f"7000777,{employer.pk},2020-01-06,,Journeyman wireman\n"
    )
    previewed = preview(staff_client, text, name="jobs.csv", url="/members/employments/import/")

    confirm(staff_client, previewed, url="/members/employments/import/")

    assert list(MemberEmployment.objects.order_by("start_date").values_list("job_title", "is_current")) == [
        ("Apprentice wireman", False),
        ("Journeyman wireman", True),
    ]


def test_import_employments_refuses_an_end_date_after_today(staff_client):
    MemberFactory(member_number="7000777")
    employer = EmployerFactory()
    tomorrow = datetime.date.today() + datetime.timedelta(days=2)
    text = f"member,organization,start_date,end_date\n7000777,{employer.pk},2019-01-07,{tomorrow.isoformat()}\n"

    response = preview(staff_client, text, name="jobs.csv", url="/members/employments/import/")

    assert statuses(response) == [(2, "error")]
    assert response.context["report"].rows[0].errors == [("end_date", "The end date cannot be after today.")]


def test_import_employments_refuses_jobs_that_overlap_in_the_file(staff_client):
    MemberFactory(member_number="7000777")
    employer = EmployerFactory()
    text = (
        "member,organization,start_date,end_date\n"
        f"7000777,{employer.pk},2019-01-07,2019-12-20\n"
        f"7000777,{employer.pk},2019-06-01,2020-03-01\n"
    )

    previewed = preview(staff_client, text, name="jobs.csv", url="/members/employments/import/")
    response = confirm(staff_client, previewed, url="/members/employments/import/")

    assert statuses(previewed) == [(2, "new"), (3, "error")]
    [(where, message)] = previewed.context["report"].rows[1].errors
    assert where == "row"
    assert message.startswith("These dates overlap another job of this member: ")
    assert response.status_code == 400
    assert not MemberEmployment.objects.exists()


def test_import_employments_preview_warns_about_an_unusual_rate_without_refusing(staff_client):
    MemberFactory(member_number="7000777")
    employer = EmployerFactory()
    text = f"member,organization,start_date,hourly_rate\n7000777,{employer.pk},2019-01-07,175.00\n"

    previewed = preview(staff_client, text, name="jobs.csv", url="/members/employments/import/")

    assert statuses(previewed) == [(2, "new")]
    assert previewed.context["report"].rows[0].warnings == [
        "The hourly rate $175.00 is outside the usual $10–$150; please check it."
    ]
    assert "Check: The hourly rate $175.00" in previewed.content.decode()


def test_import_students_matched_by_email_case_insensitively(staff_client):
    student = StudentFactory(email="ana.ruiz@example.org", phone="")
    text = "email,first_name,last_name,phone\nANA.Ruiz@Example.org,Ana,Ruiz,+1 206 555 0101\nbo@example.org,Bo,Li,\n"
    previewed = preview(staff_client, text, name="students.csv", url="/training/students/import/")

    response = confirm(staff_client, previewed, url="/training/students/import/")

    assert statuses(response) == [(2, "update"), (3, "new")]
    student.refresh_from_db()
    assert student.phone == "+1 206 555 0101"
    assert Student.objects.get(email="bo@example.org").events.get().pgh_context["source"] == "import"


def test_import_summary_links_officers_to_the_imports_changes_in_the_history(client, make_user):
    client.force_login(make_user("officer", username="olga"))
    previewed = preview(client, HEADER + GOOD_ROWS)

    response = confirm(client, previewed)

    link = (
        f'<a href="/audit/?request_id={response["X-Request-ID"]}">See every change of this import in the history</a>'
    )
    assert link in response.content.decode()
    history = client.get("/audit/", {"request_id": response["X-Request-ID"]})
    assert history.status_code == 200
    assert history.content.decode().count("7100001") >= 1
    assert {entry.record_id for entry in history.context["entries"]} == set(
        Member.objects.values_list("pk", flat=True)
    )


def test_import_summary_offers_no_history_link_to_staff(staff_client):
    response = confirm(staff_client, preview(staff_client, HEADER + GOOD_ROWS))

    assert "/audit/?request_id=" not in response.content.decode()


# --- Permissions ------------------------------------------------------------------------------------------

MEMBERSHIP_IMPORTERS = {"admin", "officer", "staff"}
ORGANIZATION_IMPORTERS = {"admin", "officer", "staff", "organizer"}
STUDENT_IMPORTERS = {"admin", "staff"}
PAGES = [
    ("training_students_import", STUDENT_IMPORTERS),
    ("members_import", MEMBERSHIP_IMPORTERS),
    ("employments_import", MEMBERSHIP_IMPORTERS),
    ("organizations_import", ORGANIZATION_IMPORTERS),
    ("contacts_import", ORGANIZATION_IMPORTERS),
]


@pytest.mark.parametrize(("url_name", "importers"), PAGES)
def test_import_page_permission_per_role(role_client, any_role, url_name, importers):
    response = role_client(any_role).get(reverse(url_name))

    assert response.status_code == (200 if any_role in importers else 403)


def test_import_post_without_permission_is_refused(role_client):
    response = role_client("organizer").post(MEMBERS_URL, {"file": csv_file(HEADER + GOOD_ROWS)})

    assert response.status_code == 403
    assert not Member.objects.exists()


def test_import_needs_both_add_and_change_permissions(client, make_user):
    user = make_user(None, username="adder")
    user.groups.add(Group.objects.get(name="read_only"))
    user.user_permissions.add(*_permissions("members.add_member"))
    client.force_login(user)

    response = client.get(MEMBERS_URL)

    assert response.status_code == 403


def _permissions(*names):
    return [Permission.objects.get(content_type__app_label=n.split(".")[0], codename=n.split(".")[1]) for n in names]


@pytest.mark.parametrize(
    ("role", "shown"), [("staff", True), ("officer", True), ("organizer", False), ("read_only", False)]
)
def test_member_list_links_to_the_import_for_roles_that_may_import(role_client, role, shown):
    html = role_client(role).get("/members/").content.decode()

    assert ('href="/members/import/"' in html) is shown


@pytest.mark.parametrize(("role", "shown"), [("staff", True), ("organizer", True), ("read_only", False)])
def test_organization_list_links_to_the_import_for_roles_that_may_import(role_client, role, shown):
    html = role_client(role).get("/organizations/").content.decode()

    assert ('href="/organizations/import/"' in html) is shown


def test_member_rows_are_checked_by_the_forms_date_rules(staff_client):
    header = "member_number,first_name,last_name,status,classification,join_date,date_of_birth\n"
    rows = (
        "7100011,Ana,Ruiz,active,journeyman,2099-01-01,\n"  # joins in the future
        "7100012,Ben,Cho,active,journeyman,,2020-01-01\n"  # six years old
        "7100013,Cy,Diaz,active,journeyman,2001-05-01,1980-02-03\n"  # fine
    )

    response = preview(staff_client, header + rows)

    assert statuses(response) == [(2, "error"), (3, "error"), (4, "new")]
    page = response.content.decode()
    assert "The join date cannot be in the future." in page
    assert "A member must be at least 16 years old." in page
    assert not Member.objects.exists()
