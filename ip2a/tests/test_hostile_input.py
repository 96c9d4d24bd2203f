"""Hostile input through the portal's forms, lists, search, URLs, redirects and CSRF (issue #8, item 2).

Rejected input answers a clear 4xx and leaves the domain tables as they were (``domain_digest()`` before and
after); accepted hostile text is stored as typed and rendered escaped on every page that shows it, and
exported formula-safe. Files (imports and attachments) are in test_hostile_files.py.

The whole of item 2, and where each part is tested:

- Script/HTML payloads in every free-text field of every create form, stored as typed, escaped in the list,
  the detail page, the history diff, and the CSV export (formula-safe): here (``SPECS``). Earlier single-field
  cases: members/tests/test_views.py (member detail), organizations/tests/test_views.py (organization list),
  training/tests/test_student_views.py (student page), audit/tests/test_views.py (history pages),
  ip2a/tests/test_search.py (global search), ip2a/tests/test_dashboard.py (recent activity),
  attachments/tests/test_ui.py (attachment names and descriptions).
- Formula-safe exports: members/tests/test_views.py (member CSV and XLSX), organizations/tests/test_views.py
  (organizations, contacts), ip2a/tests/test_resources.py (escape_formula); here for every list with an export.
- Fields with a format (member number, email, URL, state) refuse a payload with 400: here.
- SQL-like and regex-like search text, malformed filter values, page numbers and ids in URLs: here.
- CSV/XLSX imports and attachment uploads: test_hostile_files.py (which lists what ip2a/tests/test_imports.py
  and attachments/tests already cover).
- Open redirects: the login page's ``next`` in ip2a/tests/test_auth.py; logout and the admin login here.
- CSRF missing or wrong: here.
"""

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import pytest
from django import forms
from django.apps import apps
from django.core.validators import RegexValidator
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from members.factories import MemberEmploymentFactory, MemberFactory
from members.forms import EmploymentAddForm, MemberForm
from members.models import Member, MemberEmployment
from organizations.factories import EmployerFactory, OrganizationFactory
from organizations.forms import OrganizationContactCreateForm, OrganizationForm
from organizations.models import Organization, OrganizationContact
from training.factories import CohortFactory, StudentFactory
from training.forms.cohorts import ClassSessionForm, CohortForm, InstructorForm, LocationForm
from training.forms.students import CredentialForm, EnrollmentCreateForm, JATCApplicationForm, StudentForm
from training.models import (
    ClassSession,
    Cohort,
    Credential,
    Enrollment,
    Instructor,
    JATCApplication,
    Location,
    Student,
)

pytestmark = pytest.mark.django_db

DOMAIN_APPS = ("members", "organizations", "training", "attachments")
PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&"
FORMULA_PREFIXES = "=+-@"  # each a cell a spreadsheet would run as a formula


def domain_digest() -> dict[str, str]:
    """An md5 of every row of every table of the domain apps (their history event tables included), by table."""
    digests = {}
    with connection.cursor() as cursor:
        for app in DOMAIN_APPS:
            for model in apps.get_app_config(app).get_models():
                if not model._meta.managed or model._meta.proxy:
                    continue
                table = connection.ops.quote_name(model._meta.db_table)
                cursor.execute(f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {table} t")
                digests[model._meta.db_table] = cursor.fetchone()[0]
    return digests


def today() -> dt.date:
    return timezone.localdate()


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("admin", username="ada"))
    return client


# --- Every free-text field of every create form ------------------------------------------------------------


@dataclass
class Spec:
    """One create form: where it is posted, the valid values of its other fields, and the pages showing the row."""

    id: str
    model: type
    form_class: type
    setup: Any  # () -> (create URL, valid data for the fields that are not free text)
    list_url: str | None  # a list showing the new row (None: it has none)
    page: Any  # row -> the page showing it
    history: Any  # row -> its history tab (the record's own, or its owner's)


def _member():
    return reverse("members:member_create"), {"member_number": "7100001", "status": "active",
                                               "classification": "journeyman"}  # fmt: skip


def _employment():
    member, employer = MemberFactory(), EmployerFactory()
    url = reverse("members:employment_create", args=[member.pk])
    return url, {"organization": employer.pk, "start_date": "2020-01-01"}


def _organization():
    return reverse("organizations:organization_create"), {"org_type": "employer"}


def _contact():
    return reverse("organizations:contact_create", args=[OrganizationFactory().pk]), {}


def _student():
    return reverse("training:student_create"), {"email": "ana@example.org"}


def _instructor():
    return reverse("training:instructor_create"), {"email": "ian@example.org", "rate_type": "hourly",
                                                   "is_active": "on"}  # fmt: skip


def _location():
    return reverse("training:location_create"), {"location_type": "training_site"}


def _cohort():
    return reverse("training:cohort_create"), {"start_date": "2026-09-01"}


def _session():
    cohort = CohortFactory()
    return reverse("training:classsession_create", args=[cohort.pk]), {"date": cohort.start_date.isoformat()}


def _enrollment():
    student, cohort = StudentFactory(), CohortFactory()
    url = reverse("training:enrollment_create", args=[student.pk])
    return url, {"cohort": cohort.pk, "enrolled_on": today().isoformat()}


def _credential():
    url = reverse("training:credential_create", args=[StudentFactory().pk])
    issued, expires = today() - dt.timedelta(days=10), today() + dt.timedelta(days=20)  # on the expiring list
    return url, {"issue_date": issued.isoformat(), "expiration_date": expires.isoformat(), "status": "active"}


def _application():
    url = reverse("training:jatcapplication_create", args=[StudentFactory().pk])
    return url, {"application_date": today().isoformat()}


def _url(name):
    return lambda row: reverse(name, args=[row.pk])


def _owner_url(name, owner):
    return lambda row: reverse(name, args=[getattr(row, f"{owner}_id")])


SPECS = [
    Spec("member", Member, MemberForm, _member, "/members/", _url("members:member_detail"),
         _url("members:member_history")),
    Spec("employment", MemberEmployment, EmploymentAddForm, _employment, None,
         _owner_url("members:member_detail", "member"), _owner_url("members:member_history", "member")),
    Spec("organization", Organization, OrganizationForm, _organization, "/organizations/",
         _url("organizations:organization_detail"), _url("organizations:organization_history")),
    Spec("contact", OrganizationContact, OrganizationContactCreateForm, _contact, "/organizations/contacts/",
         _owner_url("organizations:organization_detail", "organization"),
         _owner_url("organizations:organization_history", "organization")),
    Spec("student", Student, StudentForm, _student, "/training/students/", _url("training:student_detail"),
         _url("training:student_history")),
    Spec("instructor", Instructor, InstructorForm, _instructor, "/training/instructors/",
         _url("training:instructor_detail"), _url("training:instructor_history")),
    Spec("location", Location, LocationForm, _location, "/training/locations/", _url("training:location_detail"),
         _url("training:location_history")),
    Spec("cohort", Cohort, CohortForm, _cohort, "/training/cohorts/", _url("training:cohort_detail"),
         _url("training:cohort_history")),
    Spec("session", ClassSession, ClassSessionForm, _session, None, _url("training:classsession_detail"),
         _owner_url("training:cohort_history", "cohort")),
    Spec("enrollment", Enrollment, EnrollmentCreateForm, _enrollment, None,
         _owner_url("training:student_detail", "student"), _owner_url("training:student_history", "student")),
    Spec("credential", Credential, CredentialForm, _credential, "/training/credentials/expiring/",
         _owner_url("training:student_detail", "student"), _owner_url("training:student_history", "student")),
    Spec("application", JATCApplication, JATCApplicationForm, _application, "/training/applications/",
         _owner_url("training:student_detail", "student"), _owner_url("training:student_history", "student")),
]  # fmt: skip


def has_format(spec: Spec, name: str, field: forms.Field) -> bool:
    """Whether a text field checks a format (email, URL, a clean_<field>() or a pattern on the model field)."""
    if isinstance(field, forms.EmailField | forms.URLField) or hasattr(spec.form_class, f"clean_{name}"):
        return True
    model_field = spec.model._meta.get_field(name)
    return any(isinstance(validator, RegexValidator) for validator in model_field.validators)


def text_fields(spec: Spec) -> dict[str, forms.CharField]:
    """The form's free-text fields that are stored on the row (not the reason, which goes to the history)."""
    return {
        name: field
        for name, field in spec.form_class.base_fields.items()
        if type(field) is forms.CharField and name != "reason" and not has_format(spec, name, field)
    }


def format_fields(spec: Spec) -> list[str]:
    return [
        name
        for name, field in spec.form_class.base_fields.items()
        if isinstance(field, forms.CharField) and name != "reason" and has_format(spec, name, field)
    ]


def fitted(text: str, field: forms.CharField) -> str:
    """The text cut to the field's length and trimmed (forms trim what they take)."""
    return (text[: field.max_length] if field.max_length else text).strip()


def assert_escaped(html: str, values: list[str], where: str) -> None:
    """No value holding markup appears raw in the page, and at least one appears escaped (it was rendered)."""
    raw = [value for value in values if "<" in value and value in html]
    assert raw == [], f"unescaped in {where}"
    assert any(escape(value) in html for value in values), f"not shown in {where}"


def test_every_create_form_has_free_text_fields_to_attack():
    assert {spec.id: sorted(text_fields(spec)) for spec in SPECS if not text_fields(spec)} == {}


@pytest.mark.parametrize("spec", SPECS, ids=[spec.id for spec in SPECS])
def test_script_payload_in_every_text_field_is_stored_as_typed_and_rendered_escaped(admin_client, spec):
    url, data = spec.setup()
    fields = text_fields(spec)
    typed = {name: fitted(PAYLOAD, field) for name, field in fields.items()}

    response = admin_client.post(url, {**data, **typed, "reason": PAYLOAD})

    assert response.status_code == 302
    row = spec.model._base_manager.latest("pk")
    assert {name: getattr(row, name) for name in fields} == typed
    # A second change, so the history shows a diff old → new of every field; each value a formula too.
    changed = {
        name: fitted(f"{FORMULA_PREFIXES[i % 4]}<svg onload=alert(3)>\"'&", field)
        for i, (name, field) in enumerate(fields.items())
    }
    for name, value in changed.items():
        setattr(row, name, value)
    row.save()
    row.refresh_from_db()
    assert {name: getattr(row, name) for name in fields} == changed

    pages = {"page": spec.page(row), "history": spec.history(row)}
    if spec.list_url:
        pages["list"] = spec.list_url
    for where, page in pages.items():
        response = admin_client.get(page)
        assert response.status_code == 200, where
        assert_escaped(response.content.decode(), [*typed.values(), *changed.values(), PAYLOAD], where)


EXPORTS = {
    "member": "/members/",
    "organization": "/organizations/",
    "contact": "/organizations/contacts/",
    "student": "/training/students/",
    "instructor": "/training/instructors/",
    "location": "/training/locations/",
    "cohort": "/training/cohorts/",
    "credential": "/training/credentials/expiring/",
    "application": "/training/applications/",
}


@pytest.mark.parametrize("spec", [spec for spec in SPECS if spec.id in EXPORTS], ids=list(EXPORTS))
def test_export_keeps_hostile_text_as_typed_and_neutralises_every_formula(admin_client, spec):
    url, data = spec.setup()
    fields = text_fields(spec)
    typed = {
        name: fitted(f"{FORMULA_PREFIXES[i % 4]}{PAYLOAD}", field) for i, (name, field) in enumerate(fields.items())
    }
    assert admin_client.post(url, {**data, **typed}).status_code == 302

    response = admin_client.get(EXPORTS[spec.id], {"export": "csv"})

    assert response.status_code == 200
    [row] = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    exported = {name: row[name] for name in fields if name in row}
    assert exported, "the export shows none of the form's text fields"
    assert exported == {name: f"'{typed[name]}" for name in exported}


FORMAT_CASES = [(spec, name) for spec in SPECS for name in format_fields(spec)]


@pytest.mark.parametrize(("spec", "name"), FORMAT_CASES, ids=[f"{spec.id}-{name}" for spec, name in FORMAT_CASES])
def test_payload_in_a_field_with_a_format_is_refused_with_400_and_writes_nothing(admin_client, spec, name):
    url, data = spec.setup()
    valid = {field: "Ana" for field in text_fields(spec)}
    before = domain_digest()

    response = admin_client.post(url, {**data, **valid, name: PAYLOAD})

    assert response.status_code == 400
    assert list(response.context["form"].errors) == [name]
    html = response.content.decode()
    assert PAYLOAD not in html
    assert escape(PAYLOAD) in html  # the form shows the value back, escaped
    assert domain_digest() == before


def test_organization_name_in_the_member_status_help_text_is_escaped(admin_client):
    job = MemberEmploymentFactory(organization=EmployerFactory(name=PAYLOAD))

    html = admin_client.get(reverse("members:member_status", args=[job.member.pk])).content.decode()

    assert PAYLOAD not in html
    assert escape(PAYLOAD) in html


# --- Search and filters ------------------------------------------------------------------------------------

SEARCH_TEXT = ["' OR 1=1 --", "%", "_", ".*", "(?i)", "\\", "[a-z]+$", "Zoë 東京 🙂 \u202edlrow", "x" * 10_000]
SEARCHABLE = [
    "/members/",
    "/organizations/",
    "/organizations/contacts/",
    "/training/students/",
    "/training/cohorts/",
    "/training/instructors/",
    "/training/locations/",
    "/training/applications/",
    "/training/credentials/expiring/",
    "/search/",
]
# (list, text filter, its longest value: longer is malformed, 400)
TEXT_FILTERS = [("/members/", "employer", None), ("/audit/", "user", 150), ("/audit/access/", "user", None)]


@pytest.fixture
def some_rows():
    MemberEmploymentFactory(member=MemberFactory(last_name="O'Brien"))
    StudentFactory(last_name="100%_sure")


@pytest.mark.parametrize("url", SEARCHABLE)
def test_sql_and_regex_like_search_text_is_searched_for_literally(admin_client, some_rows, url):
    for text in SEARCH_TEXT:
        response = admin_client.get(url, {"q": text})
        assert response.status_code == 200, text[:20]


@pytest.mark.parametrize(("url", "name", "max_length"), TEXT_FILTERS)
def test_sql_and_regex_like_text_filters_are_matched_literally(admin_client, some_rows, url, name, max_length):
    for text in SEARCH_TEXT:
        expected = 400 if max_length and len(text) > max_length else 200
        assert admin_client.get(url, {name: text}).status_code == expected, text[:20]


def test_search_text_with_special_characters_matches_only_rows_holding_them(admin_client, some_rows):
    members = admin_client.get("/members/", {"q": "O'Brien"}).context["object_list"]
    students = admin_client.get("/training/students/", {"q": "100%_"}).context["object_list"]

    assert [m.last_name for m in members] == ["O'Brien"]
    assert [s.last_name for s in students] == ["100%_sure"]
    assert list(admin_client.get("/training/students/", {"q": "%"}).context["object_list"]) == []
    assert list(admin_client.get("/members/", {"q": "' OR 1=1 --"}).context["object_list"]) == []


@pytest.mark.parametrize("url", SEARCHABLE[:-1])
def test_a_nul_character_in_the_search_box_is_refused_with_400(admin_client, url):
    assert admin_client.get(url, {"q": "ana\x00"}).status_code == 400


def test_a_nul_character_in_the_global_search_is_dropped(admin_client):
    assert admin_client.get("/search/", {"q": "ana\x00"}).status_code == 200


HUGE_ID = "99999999999999999999"
BAD_IDS = ["abc", "0", "-1", HUGE_ID, "1e999", "1;DROP TABLE members_member"]
MALFORMED_FILTERS = {
    "/members/": [("status", "bogus"), ("classification", "wizard"), ("deleted", "bogus"), ("sort", "bogus"),
                  ("sort", "-id;DROP TABLE members_member")],
    "/organizations/": [("org_type", "bogus"), ("salting_score", "9"), ("salting_score", "abc"),
                        ("salting_score", "1e999"), ("salting_score", "-1"), ("sort", "bogus")],
    # (primary is a checkbox: like any HTML checkbox, a value present means checked)
    "/organizations/contacts/": [*(("organization", bad) for bad in BAD_IDS)],
    "/training/students/": [*(("cohort", bad) for bad in BAD_IDS), ("enrollment_status", "bogus"),
                            ("veteran", "abc"), ("deleted", "bogus")],
    "/training/cohorts/": [*(("location", bad) for bad in BAD_IDS), ("status", "bogus")],
    "/training/instructors/": [("is_active", "abc"), ("rate_type", "bogus"), ("sort", "bogus")],
    "/training/locations/": [("location_type", "bogus"), ("sort", "bogus")],
    "/training/applications/": [("status", "bogus"), ("sort", "bogus")],
    "/training/credentials/expiring/": [("days", "abc"), ("days", "45"), ("days", "-1"), ("days", "1e999")],
    "/audit/": [("date_after", "2026-13-45"), ("date_before", "abc"), ("date_after", "99999-01-01"),
                ("record_id", "abc"), ("record_id", "0"), ("record_id", "-1"), ("record_id", "1e999"),
                ("source", "bogus"), ("record_type", "auth.bogus"),
                ("action", "bogus"), ("request_id", "not-a-uuid")],
    "/audit/access/": [("action", "bogus"), *(("target_type", bad) for bad in BAD_IDS),
                       ("date_after", "2026-13-45"), ("date_before", "2026-02-30")],
}  # fmt: skip
FILTER_CASES = [(url, name, value) for url, cases in MALFORMED_FILTERS.items() for name, value in cases]


@pytest.mark.parametrize(
    ("url", "name", "value"), FILTER_CASES, ids=[f"{url}?{name}={value[:12]}" for url, name, value in FILTER_CASES]
)
def test_malformed_filter_value_is_answered_with_400(admin_client, url, name, value):
    response = admin_client.get(url, {name: value})

    assert response.status_code == 400


def test_history_log_record_id_beyond_any_key_finds_no_event(admin_client):
    MemberFactory()

    response = admin_client.get("/audit/", {"record_id": HUGE_ID})

    assert response.status_code == 200
    assert response.context["entries"] == []


LISTS = [*SEARCHABLE[:-1], "/audit/", "/audit/access/"]


@pytest.mark.parametrize("url", LISTS)
def test_malformed_page_number_is_answered_with_404(admin_client, url):
    for page in ["abc", "0", "-1", HUGE_ID, "1e999"]:
        assert admin_client.get(url, {"page": page}).status_code == 404, page


@pytest.mark.parametrize(
    "url",
    [
        f"/members/{HUGE_ID}/",
        f"/members/{HUGE_ID}/edit/",
        f"/members/{HUGE_ID}/history/",
        f"/members/{HUGE_ID}/employments/new/",
        f"/members/employments/{HUGE_ID}/edit/",
        f"/organizations/{HUGE_ID}/",
        f"/organizations/{HUGE_ID}/contacts/new/",
        f"/organizations/contacts/{HUGE_ID}/edit/",
        f"/training/students/{HUGE_ID}/",
        f"/training/students/{HUGE_ID}/history/",
        f"/training/cohorts/{HUGE_ID}/",
        f"/training/sessions/{HUGE_ID}/attendance/",
        f"/training/enrollments/{HUGE_ID}/edit/",
        f"/training/credentials/{HUGE_ID}/renew/",
        f"/training/applications/{HUGE_ID}/advance/",
        f"/attachments/{HUGE_ID}/download/",
        f"/attachments/members/member/{HUGE_ID}/",
        f"/attachments/members/member/{HUGE_ID}/new/",
        "/attachments/bogus/bogus/1/new/",
        "/members/abc/",
        "/members/-1/",
        "/members/1.5/",
    ],
)
def test_malformed_or_unknown_id_in_a_url_is_404(admin_client, url):
    assert admin_client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/members/new/", {"member_number": "7100001", "first_name": "A", "last_name": "B", "status": "bogus",
                           "classification": "journeyman", "date_of_birth": "1990-02-30"}),
        ("/members/new/", {"member_number": "7100001", "first_name": "A", "last_name": "B", "status": "active",
                           "classification": "journeyman", "join_date": "99999-01-01"}),
        ("/organizations/new/", {"name": "A", "org_type": "employer", "salting_score": "1e999"}),
        ("/organizations/new/", {"name": "A", "org_type": "bogus"}),
        ("/training/cohorts/new/", {"name": "A", "start_date": "2026-13-45", "max_students": "-1"}),
        ("/training/cohorts/new/", {"name": "A", "start_date": "2026-09-01", "max_students": HUGE_ID}),
        ("/training/cohorts/new/", {"name": "A", "start_date": "2026-09-01", "location": HUGE_ID}),
        ("/training/instructors/new/", {"first_name": "A", "last_name": "B", "email": "a@example.org",
                                        "rate_type": "hourly", "rate_amount": "1e999"}),
        ("/training/instructors/new/", {"first_name": "A", "last_name": "B", "email": "a@example.org",
                                        "rate_type": "hourly", "rate_amount": "NaN"}),
        ("/training/locations/new/", {"name": "A", "location_type": "training_site", "capacity": "abc"}),
        ("/training/locations/new/", {"name": "A", "location_type": "training_site", "capacity": HUGE_ID}),
    ],
)  # fmt: skip
def test_malformed_dates_numbers_choices_and_ids_in_forms_are_refused_with_400(admin_client, url, data):
    before = domain_digest()

    response = admin_client.post(url, data)

    assert response.status_code == 400
    assert response.context["form"].errors
    assert domain_digest() == before


@pytest.mark.parametrize(
    ("value", "field"),
    [("1e999", "hourly_rate"), ("NaN", "hourly_rate"), ("-1", "hourly_rate"), ("abc", "organization"),
     (HUGE_ID, "organization"), ("2020-02-30", "start_date")],
)  # fmt: skip
def test_malformed_employment_values_are_refused_with_400(admin_client, value, field):
    member, employer = MemberFactory(), EmployerFactory()
    data = {"organization": employer.pk, "start_date": "2020-01-01", field: value}
    before = domain_digest()

    response = admin_client.post(reverse("members:employment_create", args=[member.pk]), data)

    assert response.status_code == 400
    assert domain_digest() == before


# --- Redirects ---------------------------------------------------------------------------------------------

OFFSITE = ["https://evil.example/", "//evil.example/", "/\\evil.example", "https:evil.example", "\x01//evil.example"]


@pytest.mark.parametrize("next_url", OFFSITE)
def test_logout_never_redirects_off_site(client, make_user, next_url):
    client.force_login(make_user("staff"))

    response = client.post(reverse("logout"), {"next": next_url})

    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


@pytest.mark.parametrize("next_url", OFFSITE)
def test_admin_login_never_redirects_a_signed_in_admin_off_site(client, make_user, next_url):
    client.force_login(make_user("admin", is_staff=True))

    response = client.get(reverse("admin_login"), {"next": next_url})

    assert (response.status_code, response["Location"]) == (302, reverse("admin:index"))


@pytest.mark.parametrize("next_url", OFFSITE)
def test_login_page_of_a_signed_in_user_never_redirects_off_site(admin_client, next_url):
    response = admin_client.get(reverse("login"), {"next": next_url})

    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


# --- CSRF --------------------------------------------------------------------------------------------------

MEMBER_DATA = {"member_number": "7100001", "first_name": "Ana", "last_name": "Ruiz", "status": "active",
               "classification": "journeyman"}  # fmt: skip


@pytest.fixture
def csrf_client(make_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("admin", username="ada"))
    return client


@pytest.mark.parametrize("token", [None, "wrong", "x" * 64])
@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/members/new/", MEMBER_DATA),
        ("/organizations/new/", {"name": "Acme", "org_type": "employer"}),
        ("/training/students/new/", {"first_name": "A", "last_name": "B", "email": "a@example.org"}),
        ("/members/import/", {"token": "A" * 32}),
    ],
)
def test_post_without_or_with_a_wrong_csrf_token_is_refused_with_403_and_writes_nothing(csrf_client, url, data, token):
    csrf_client.get(url)  # sets the CSRF cookie, as a browser holding the page would have it
    before = domain_digest()
    extra = {} if token is None else {"csrfmiddlewaretoken": token}

    response = csrf_client.post(url, {**data, **extra})

    assert response.status_code == 403
    assert domain_digest() == before


def test_post_with_the_right_csrf_token_is_accepted(csrf_client):
    csrf_client.get("/members/new/")
    token = csrf_client.cookies["csrftoken"].value

    response = csrf_client.post("/members/new/", {**MEMBER_DATA, "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert Member.objects.get().member_number == "7100001"


def test_member_delete_without_a_csrf_token_is_refused(csrf_client):
    member = MemberFactory()
    before = domain_digest()

    response = csrf_client.post(reverse("members:member_delete", args=[member.pk]), {"reason": "gone"})

    assert response.status_code == 403
    assert domain_digest() == before


def test_login_without_a_csrf_token_is_refused(make_user):
    make_user("staff", username="sam")
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse("login"), {"username": "sam", "password": "correct-horse-battery"})

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
