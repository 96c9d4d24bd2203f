"""Organization and contact pages: lists and exports, the organization page, forms, actions and permissions."""

import csv
import datetime
import io

import openpyxl
import pytest
from django.urls import reverse

from audit.models import AccessLog
from members.factories import MemberEmploymentFactory, MemberFactory
from organizations import views
from organizations.factories import EmployerFactory, OrganizationContactFactory, OrganizationFactory
from organizations.models import Organization, OrganizationContact, OrganizationType, SaltingScore

pytestmark = pytest.mark.django_db

ORGANIZATIONS = reverse("organizations:organization_list")
CONTACTS = reverse("organizations:contact_list")


def url(name, *args):
    return reverse(f"organizations:{name}", args=args)


def with_contacts(organizations):
    """Give each organization a primary and a regular contact."""
    for organization in organizations:
        OrganizationContactFactory(organization=organization, is_primary=True)
        OrganizationContactFactory(organization=organization)
    return organizations


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def organization_data(**changes):
    return {
        "name": "Sparks Electric",
        "org_type": OrganizationType.EMPLOYER,
        "city": "Tacoma",
        "state": "WA",
    } | changes


# --- organization list ---------------------------------------------------------------------------------------


def test_organization_list_within_query_budget(role_client, django_assert_max_num_queries):
    with_contacts(OrganizationFactory.create_batch(30))
    client = role_client("read_only")

    # session, user, user and group permissions, probe and count, page, primary contacts, session renewal (3)
    with django_assert_max_num_queries(11):
        response = client.get(ORGANIZATIONS)

    rows = response.context["object_list"]
    assert len(rows) == 30
    assert all(len(organization.primary_contacts) == 1 for organization in rows)


def test_organization_list_filters_by_type_within_query_budget(role_client, django_assert_max_num_queries):
    with_contacts(OrganizationFactory.create_batch(30))
    OrganizationFactory(name="Local 46", org_type=OrganizationType.UNION)
    client = role_client("staff")

    with django_assert_max_num_queries(11):
        response = client.get(ORGANIZATIONS, {"org_type": "union"})

    assert [organization.name for organization in response.context["object_list"]] == ["Local 46"]


def test_organization_list_searches_and_sorts(role_client):
    OrganizationFactory(name="Sparks Electric", org_type=OrganizationType.EMPLOYER)
    OrganizationFactory(name="Sparks Union Hall", org_type=OrganizationType.UNION)
    OrganizationFactory(name="Cascade Power")

    response = role_client("staff").get(ORGANIZATIONS, {"q": "sparks", "sort": "-name"})

    assert [organization.name for organization in response.context["object_list"]] == [
        "Sparks Union Hall",
        "Sparks Electric",
    ]


def test_organization_list_filters_by_salting_score(role_client):
    EmployerFactory(name="Friendly", salting_score=SaltingScore.SUPPORTIVE)
    EmployerFactory(name="Unrated")

    response = role_client("read_only").get(ORGANIZATIONS, {"salting_score": "5"})

    assert [organization.name for organization in response.context["object_list"]] == ["Friendly"]


def test_organization_list_shows_type_city_score_and_primary_contact(role_client):
    organization = EmployerFactory(name="Sparks Electric", city="Tacoma", salting_score=SaltingScore.RECEPTIVE)
    OrganizationContactFactory(organization=organization, first_name="Ana", last_name="Ruiz", is_primary=True)
    OrganizationContactFactory(organization=organization, first_name="Bo", last_name="Regular")

    content = role_client("read_only").get(ORGANIZATIONS).content.decode()

    assert "Tacoma" in content
    assert "4 — Receptive" in content
    assert "Ana Ruiz" in content
    assert "Bo Regular" not in content


def test_organization_list_hides_deleted_organizations(role_client):
    OrganizationFactory(name="Gone").soft_delete(reason="closed")
    OrganizationFactory(name="Here")

    response = role_client("admin").get(ORGANIZATIONS)

    assert [organization.name for organization in response.context["object_list"]] == ["Here"]


def test_organization_list_pagination_keeps_the_filters(role_client):
    OrganizationFactory.create_batch(51, org_type=OrganizationType.UNION)

    response = role_client("staff").get(ORGANIZATIONS, {"org_type": "union"})

    assert len(response.context["object_list"]) == 50
    assert 'href="?org_type=union&amp;page=2"' in response.content.decode()


def test_organization_list_answers_htmx_with_the_table_alone(role_client):
    OrganizationFactory(name="Sparks Electric")

    response = role_client("staff").get(ORGANIZATIONS, headers={"HX-Request": "true"})

    content = response.content.decode()
    assert "Sparks Electric" in content
    assert "<table>" in content
    assert "<html" not in content


def test_organization_list_answers_400_to_a_malformed_filter(role_client):
    response = role_client("staff").get(ORGANIZATIONS, {"salting_score": "9"})

    assert response.status_code == 400


def test_organization_list_escapes_names(role_client):
    OrganizationFactory(name="<script>alert(1)</script>")

    content = role_client("staff").get(ORGANIZATIONS).content.decode()

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "<script>alert(1)" not in content


def test_organization_list_offers_new_organization_only_to_those_who_may_add(role_client):
    new_link = f'href="{url("organization_create")}"'

    assert new_link in role_client("organizer").get(ORGANIZATIONS).content.decode()
    assert new_link not in role_client("read_only").get(ORGANIZATIONS).content.decode()


# --- organization export -------------------------------------------------------------------------------------


def test_organization_export_holds_every_filtered_row_in_screen_order(role_client):
    OrganizationFactory.create_batch(55, org_type=OrganizationType.UNION)
    OrganizationFactory.create_batch(3, org_type=OrganizationType.JATC)
    client = role_client("staff")
    filters = {"org_type": "union", "sort": "-name"}

    page = client.get(ORGANIZATIONS, filters)
    response = client.get(ORGANIZATIONS, {**filters, "export": "csv"})

    names = [row["name"] for row in csv_rows(response)]
    expected = list(
        Organization.objects.filter(org_type="union").order_by("-name", "pk").values_list("name", flat=True)
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert names == expected
    assert names[:50] == [organization.name for organization in page.context["object_list"]]


def test_organization_export_neutralises_formulas(role_client):
    OrganizationFactory(name='=HYPERLINK("http://evil.example","click")', notes="+1 555 0100")

    (row,) = csv_rows(role_client("organizer").get(ORGANIZATIONS, {"export": "csv"}))

    assert (row["name"], row["notes"]) == ('\'=HYPERLINK("http://evil.example","click")', "'+1 555 0100")


def test_organization_export_as_xlsx_holds_the_filtered_rows(role_client):
    OrganizationFactory(name="Local 46", org_type=OrganizationType.UNION)
    OrganizationFactory(name="Sparks Electric")

    response = role_client("officer").get(ORGANIZATIONS, {"org_type": "union", "export": "xlsx"})

    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header, *rows = list(sheet.values)
    assert [row[header.index("name")] for row in rows] == ["Local 46"]


def test_organization_export_is_written_to_the_access_log_with_its_row_count(client, make_user):
    user = make_user("staff")
    client.force_login(user)
    OrganizationFactory.create_batch(3, org_type=OrganizationType.UNION)

    client.get(ORGANIZATIONS, {"org_type": "union", "export": "csv"})

    log = AccessLog.objects.get()
    assert (log.user, log.action, log.row_count, log.query) == (user, "export", 3, "org_type=union&export=csv")


@pytest.mark.parametrize(
    ("role", "expected"),
    [("admin", 200), ("officer", 200), ("staff", 200), ("organizer", 200), ("instructor", 403), ("read_only", 403)],
)
def test_organization_export_permission_per_role(role_client, role, expected):
    assert role_client(role).get(ORGANIZATIONS, {"export": "csv"}).status_code == expected


def test_organization_list_offers_export_links_only_to_those_who_may_export(role_client):
    OrganizationFactory()

    assert "export=csv" in role_client("organizer").get(ORGANIZATIONS).content.decode()
    assert "export=csv" not in role_client("read_only").get(ORGANIZATIONS).content.decode()


# --- contact list and export ---------------------------------------------------------------------------------


def test_contact_list_within_query_budget(role_client, django_assert_max_num_queries):
    with_contacts(OrganizationFactory.create_batch(30))
    client = role_client("organizer")

    # session, user, user and group permissions, probe and count, organization choices, page (organizations
    # joined), session renewal (3)
    with django_assert_max_num_queries(11):
        response = client.get(CONTACTS)

    assert len(response.context["object_list"]) == 50


def test_contact_list_filters_by_organization_and_primary(role_client):
    organization = OrganizationFactory()
    OrganizationContactFactory(organization=organization, last_name="Primary", is_primary=True)
    OrganizationContactFactory(organization=organization, last_name="Regular")
    OrganizationContactFactory(last_name="Elsewhere", is_primary=True)

    response = role_client("read_only").get(CONTACTS, {"organization": organization.pk, "primary": "on"})

    assert [contact.last_name for contact in response.context["object_list"]] == ["Primary"]


def test_contact_list_searches_names(role_client):
    OrganizationContactFactory(first_name="Ana", last_name="Ruiz")
    OrganizationContactFactory(first_name="Bo", last_name="Ruiz")

    response = role_client("read_only").get(CONTACTS, {"q": "ana ruiz"})

    assert [contact.first_name for contact in response.context["object_list"]] == ["Ana"]


def test_contact_list_sorts_by_organization(role_client):
    OrganizationContactFactory(organization=OrganizationFactory(name="Beta"), last_name="Adams")
    OrganizationContactFactory(organization=OrganizationFactory(name="Alpha"), last_name="Young")

    response = role_client("read_only").get(CONTACTS, {"sort": "organization"})

    assert [contact.last_name for contact in response.context["object_list"]] == ["Young", "Adams"]


def test_contact_export_holds_the_filtered_rows_and_neutralises_formulas(role_client):
    organization = OrganizationFactory(name="@SUM(A1:A9)")
    OrganizationContactFactory(organization=organization, first_name="=cmd", last_name="Zed")
    OrganizationContactFactory(organization=organization, first_name="Ana", last_name="Able")
    OrganizationContactFactory(last_name="Elsewhere")

    response = role_client("staff").get(CONTACTS, {"organization": organization.pk, "export": "csv"})

    rows = [(row["first_name"], row["last_name"], row["organization_name"]) for row in csv_rows(response)]
    assert rows == [("Ana", "Able", "'@SUM(A1:A9)"), ("'=cmd", "Zed", "'@SUM(A1:A9)")]


def test_contact_export_is_forbidden_to_read_only(role_client):
    assert role_client("read_only").get(CONTACTS, {"export": "csv"}).status_code == 403


# --- organization page ---------------------------------------------------------------------------------------


@pytest.fixture
def busy_organization():
    """An employer with 20 contacts (one primary), 20 current employees and 3 past ones."""
    organization = EmployerFactory(salting_score=SaltingScore.NEUTRAL, salting_notes="Owner met us twice")
    OrganizationContactFactory.create_batch(19, organization=organization)
    OrganizationContactFactory(organization=organization, last_name="Zimmer", is_primary=True)
    MemberEmploymentFactory.create_batch(20, organization=organization)
    MemberEmploymentFactory.create_batch(3, organization=organization, end_date=datetime.date(2023, 6, 30))
    return organization


def test_organization_detail_within_query_budget(role_client, busy_organization, django_assert_max_num_queries):
    client = role_client("staff")

    # session, user, user and group permissions, organization, current employees (members joined), past
    # count, contacts, deleted contacts, attachments panel (6), session renewal (3)
    with django_assert_max_num_queries(18):
        response = client.get(url("organization_detail", busy_organization.pk))

    assert (len(response.context["contacts"]), len(response.context["current_employments"])) == (20, 20)
    assert response.context["past_employee_count"] == 3


def test_organization_detail_lists_the_primary_contact_first(role_client, busy_organization):
    response = role_client("read_only").get(url("organization_detail", busy_organization.pk))

    assert response.context["contacts"][0].last_name == "Zimmer"


def test_organization_detail_lists_current_employees_with_number_title_and_start(role_client):
    organization = EmployerFactory()
    employment = MemberEmploymentFactory(
        organization=organization, member__member_number="7123456", job_title="Foreman", start_date="2021-04-05"
    )
    MemberEmploymentFactory(organization=organization, end_date=datetime.date(2022, 1, 1), job_title="Ended")
    MemberEmploymentFactory(job_title="Other employer")

    response = role_client("read_only").get(url("organization_detail", organization.pk))

    assert response.context["current_employments"] == [employment]
    content = response.content.decode()
    assert "7123456" in content
    assert "Foreman" in content
    assert "2021-04-05" in content


def test_organization_detail_hides_employees_who_are_deleted_members(role_client):
    employment = MemberEmploymentFactory()
    employment.member.soft_delete(reason="duplicate")

    response = role_client("staff").get(url("organization_detail", employment.organization_id))

    assert response.context["current_employments"] == []


def test_organization_detail_caps_current_employees_and_says_how_many_more(role_client, monkeypatch):
    monkeypatch.setattr(views, "EMPLOYEES_SHOWN", 3)
    organization = EmployerFactory()
    MemberEmploymentFactory.create_batch(5, organization=organization)

    response = role_client("staff").get(url("organization_detail", organization.pk))

    assert len(response.context["current_employments"]) == 3
    assert "… and 2 more." in response.content.decode()


def test_organization_detail_counts_each_past_employee_once_and_not_current_ones(role_client):
    organization = EmployerFactory()
    twice = MemberFactory()
    MemberEmploymentFactory(member=twice, organization=organization, start_date="2018-01-01", end_date="2018-12-31")
    MemberEmploymentFactory(member=twice, organization=organization, start_date="2019-06-01", end_date="2019-12-31")
    returned = MemberFactory()
    MemberEmploymentFactory(member=returned, organization=organization, start_date="2015-01-01", end_date="2016-01-01")
    MemberEmploymentFactory(member=returned, organization=organization, start_date="2020-01-01")

    response = role_client("staff").get(url("organization_detail", organization.pk))

    assert response.context["past_employee_count"] == 1


def test_organization_detail_is_not_access_logged(role_client):
    organization = OrganizationFactory()

    role_client("staff").get(url("organization_detail", organization.pk))

    assert AccessLog.objects.count() == 0


def test_organization_detail_shows_the_salting_score_label_and_notes_to_every_viewer(role_client, busy_organization):
    content = role_client("read_only").get(url("organization_detail", busy_organization.pk)).content.decode()

    assert "3 — Neutral" in content
    assert "Owner met us twice" in content


@pytest.mark.parametrize(("role", "shown"), [("organizer", True), ("officer", True), ("staff", False)])
def test_organization_detail_links_salting_edit_only_with_the_salting_permission(role_client, role, shown):
    organization = EmployerFactory()

    content = role_client(role).get(url("organization_detail", organization.pk)).content.decode()

    assert (url("organization_salting", organization.pk) in content) is shown


@pytest.mark.parametrize(
    ("role", "edit", "delete"),
    [("staff", True, True), ("organizer", True, False), ("read_only", False, False)],
)
def test_organization_detail_shows_only_the_actions_the_role_may_take(role_client, role, edit, delete):
    contact = OrganizationContactFactory()
    OrganizationContactFactory(organization=contact.organization, is_primary=True)

    content = role_client(role).get(url("organization_detail", contact.organization_id)).content.decode()

    links = {
        "edit": url("organization_update", contact.organization_id),
        "contact edit": url("contact_update", contact.pk),
        "make primary": url("contact_make_primary", contact.pk),
        "delete": url("organization_delete", contact.organization_id),
        "contact delete": url("contact_delete", contact.pk),
    }
    shown = {name: link in content for name, link in links.items()}
    assert shown == {
        "edit": edit,
        "contact edit": edit,
        "make primary": edit,
        "delete": delete,
        "contact delete": delete,
    }


def test_organization_detail_of_a_deleted_organization_is_shown_only_to_who_may_restore_it(role_client):
    organization = OrganizationFactory()
    organization.soft_delete(reason="closed")

    hidden = role_client("organizer").get(url("organization_detail", organization.pk))
    shown = role_client("staff").get(url("organization_detail", organization.pk))

    assert (hidden.status_code, shown.status_code) == (404, 200)
    assert "This organization was deleted on" in shown.content.decode()
    assert url("organization_restore", organization.pk) in shown.content.decode()


def test_organization_detail_offers_deleted_contacts_for_restore(role_client):
    contact = OrganizationContactFactory()
    contact.soft_delete(reason="left")

    content = role_client("officer").get(url("organization_detail", contact.organization_id)).content.decode()

    assert url("contact_restore", contact.pk) in content


# --- organization forms --------------------------------------------------------------------------------------


def test_organization_create_saves_salting_for_an_organizer(role_client):
    response = role_client("organizer").post(
        url("organization_create"), organization_data(salting_score=SaltingScore.RECEPTIVE, salting_notes="Warm")
    )

    organization = Organization.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("organization_detail", organization.pk)
    assert (organization.name, organization.salting_score, organization.salting_notes) == (
        "Sparks Electric",
        SaltingScore.RECEPTIVE,
        "Warm",
    )


def test_organization_create_refuses_a_salting_score_on_a_non_employer(role_client):
    response = role_client("organizer").post(
        url("organization_create"),
        organization_data(org_type=OrganizationType.UNION, salting_score=SaltingScore.RECEPTIVE),
    )

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["Only employers can have a salting score."]
    assert not Organization.objects.exists()


def test_organization_create_refuses_a_blank_name(role_client):
    response = role_client("staff").post(url("organization_create"), organization_data(name="  "))

    assert response.status_code == 400
    assert response.context["form"].errors == {"name": ["This field is required."]}


def test_organization_update_ignores_posted_salting_values_without_the_salting_permission(role_client):
    organization = EmployerFactory(salting_score=SaltingScore.NEUTRAL, salting_notes="Keep")

    response = role_client("staff").post(
        url("organization_update", organization.pk),
        organization_data(name="Renamed", salting_score=SaltingScore.HOSTILE, salting_notes="Changed"),
    )

    organization.refresh_from_db()
    assert response.status_code == 302
    assert (organization.name, organization.salting_score, organization.salting_notes) == (
        "Renamed",
        SaltingScore.NEUTRAL,
        "Keep",
    )


def test_organization_update_shows_the_database_refusal_as_a_form_error(role_client):
    organization = EmployerFactory(salting_score=SaltingScore.NEUTRAL)

    response = role_client("staff").post(
        url("organization_update", organization.pk), organization_data(org_type=OrganizationType.UNION)
    )

    organization.refresh_from_db()
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["Only employers can have a salting score."]
    assert organization.org_type == OrganizationType.EMPLOYER


def test_organization_update_keeps_the_reason_in_history(role_client):
    organization = OrganizationFactory()

    role_client("staff").post(
        url("organization_update", organization.pk), organization_data(reason="New owner renamed it")
    )

    assert organization.events.order_by("pgh_id").last().pgh_context["reason"] == "New owner renamed it"


def test_organization_salting_saves_score_and_notes(role_client):
    organization = EmployerFactory()

    response = role_client("organizer").post(
        url("organization_salting", organization.pk),
        {"salting_score": SaltingScore.SUPPORTIVE, "salting_notes": "Two salts hired"},
    )

    organization.refresh_from_db()
    assert response.status_code == 302
    assert (organization.salting_score, organization.salting_notes) == (SaltingScore.SUPPORTIVE, "Two salts hired")


def test_organization_salting_refuses_a_score_on_a_non_employer(role_client):
    organization = OrganizationFactory(org_type=OrganizationType.JATC)

    response = role_client("organizer").post(url("organization_salting", organization.pk), {"salting_score": "3"})

    organization.refresh_from_db()
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["Only employers can have a salting score."]
    assert organization.salting_score is None


# --- organization delete and restore -------------------------------------------------------------------------


def test_organization_delete_is_refused_while_someone_works_there(role_client):
    organization = MemberEmploymentFactory().organization

    response = role_client("staff").post(url("organization_delete", organization.pk), {"reason": "Closed"})

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "Members currently work here; end their jobs before deleting the organization."
    ]
    assert Organization.objects.filter(pk=organization.pk).exists()


def test_organization_delete_hides_it_with_its_contacts(role_client):
    contact = OrganizationContactFactory()

    response = role_client("officer").post(url("organization_delete", contact.organization_id), {"reason": "Closed"})

    assert response.status_code == 302
    assert not Organization.objects.filter(pk=contact.organization_id).exists()
    assert not OrganizationContact.objects.filter(pk=contact.pk).exists()
    assert contact.organization.events.order_by("pgh_id").last().pgh_context["reason"] == "Closed"


def test_organization_delete_requires_a_reason(role_client):
    organization = OrganizationFactory()

    response = role_client("staff").post(url("organization_delete", organization.pk), {"reason": ""})

    assert response.status_code == 400
    assert Organization.objects.filter(pk=organization.pk).exists()


def test_organization_restore_brings_back_its_contacts(role_client):
    contact = OrganizationContactFactory()
    contact.organization.soft_delete(reason="Closed")

    response = role_client("admin").post(url("organization_restore", contact.organization_id), {"reason": "Reopened"})

    assert response.status_code == 302
    assert OrganizationContact.objects.filter(pk=contact.pk).exists()


# --- contacts ------------------------------------------------------------------------------------------------


def test_contact_create_makes_the_first_contact_primary(role_client):
    organization = OrganizationFactory()

    response = role_client("organizer").post(
        url("contact_create", organization.pk), {"first_name": "Ana", "last_name": "Ruiz"}
    )

    contact = OrganizationContact.objects.get()
    assert response["Location"] == url("organization_detail", organization.pk)
    assert (contact.organization, contact.full_name, contact.is_primary) == (organization, "Ana Ruiz", True)


def test_contact_create_as_primary_demotes_the_previous_primary(role_client):
    primary = OrganizationContactFactory(is_primary=True)

    role_client("staff").post(
        url("contact_create", primary.organization_id), {"first_name": "Ana", "last_name": "Ruiz", "is_primary": "on"}
    )

    primary.refresh_from_db()
    new = OrganizationContact.objects.get(last_name="Ruiz")
    assert (primary.is_primary, new.is_primary) == (False, True)


def test_contact_create_runs_a_fixed_number_of_queries(role_client, django_assert_max_num_queries):
    primary = OrganizationContactFactory(is_primary=True)
    client = role_client("staff")
    client.get(url("contact_create", primary.organization_id))  # the form first, as a user opens it

    # The organization read once for the form; the service locks it once, demotes the primary and inserts, and
    # leaves the constraints the form asked (names not blank) and the one-primary index to the insert.
    with django_assert_max_num_queries(13):
        response = client.post(
            url("contact_create", primary.organization_id),
            {"first_name": "Ana", "last_name": "Ruiz", "is_primary": "on"},
        )

    assert response.status_code == 302
    assert list(OrganizationContact.objects.filter(is_primary=True).values_list("last_name", flat=True)) == ["Ruiz"]


def test_contact_create_shows_the_blank_name_message(role_client):
    organization = OrganizationFactory()

    response = role_client("staff").post(url("contact_create", organization.pk), {"first_name": "Ana"})

    assert response.status_code == 400
    assert response.context["form"].errors == {"last_name": ["This field is required."]}


def test_contact_create_is_not_found_for_a_deleted_organization(role_client):
    organization = OrganizationFactory()
    organization.soft_delete(reason="closed")

    response = role_client("staff").get(url("contact_create", organization.pk))

    assert response.status_code == 404


def test_contact_update_saves_and_returns_to_the_organization(role_client):
    contact = OrganizationContactFactory(title="Estimator")

    response = role_client("organizer").post(
        url("contact_update", contact.pk), {"first_name": "Ana", "last_name": "Ruiz", "title": "Owner"}
    )

    contact.refresh_from_db()
    assert response["Location"] == url("organization_detail", contact.organization_id)
    assert (contact.full_name, contact.title) == ("Ana Ruiz", "Owner")


def test_contact_update_page_cancels_back_to_the_organization(role_client):
    contact = OrganizationContactFactory()

    content = role_client("staff").get(url("contact_update", contact.pk)).content.decode()

    assert f'<a class="button" href="{url("organization_detail", contact.organization_id)}">Cancel</a>' in content


def test_contact_make_primary_swaps_the_primary_contact(role_client):
    primary = OrganizationContactFactory(is_primary=True)
    contact = OrganizationContactFactory(organization=primary.organization)

    response = role_client("organizer").post(url("contact_make_primary", contact.pk))

    primary.refresh_from_db()
    contact.refresh_from_db()
    assert response["Location"] == url("organization_detail", contact.organization_id)
    assert (primary.is_primary, contact.is_primary) == (False, True)


def test_contact_make_primary_answers_get_with_405(role_client):
    contact = OrganizationContactFactory()

    response = role_client("staff").get(url("contact_make_primary", contact.pk))

    contact.refresh_from_db()
    assert (response.status_code, contact.is_primary) == (405, False)


def test_contact_delete_hides_the_contact_with_its_reason(role_client):
    contact = OrganizationContactFactory()

    response = role_client("staff").post(url("contact_delete", contact.pk), {"reason": "Left the company"})

    assert response["Location"] == url("organization_detail", contact.organization_id)
    assert not OrganizationContact.objects.filter(pk=contact.pk).exists()
    assert contact.events.order_by("pgh_id").last().pgh_context["reason"] == "Left the company"


def test_contact_restore_comes_back_non_primary_next_to_a_newer_primary(role_client):
    contact = OrganizationContactFactory(is_primary=True)
    contact.soft_delete(reason="left")
    new_primary = OrganizationContactFactory(organization=contact.organization, is_primary=True)

    response = role_client("officer").post(url("contact_restore", contact.pk), {"reason": "came back"})

    contact.refresh_from_db()
    new_primary.refresh_from_db()
    assert response.status_code == 302
    assert (contact.deleted_at, contact.is_primary, new_primary.is_primary) == (None, False, True)


def test_contact_restore_is_refused_while_its_organization_is_deleted(role_client):
    contact = OrganizationContactFactory()
    contact.organization.soft_delete(reason="closed")

    response = role_client("admin").post(url("contact_restore", contact.pk), {"reason": "came back"})

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        f"“{contact.organization}” is deleted; restore the organization first."
    ]


# --- permissions ---------------------------------------------------------------------------------------------

VIEW = {"admin": 200, "officer": 200, "staff": 200, "organizer": 200, "instructor": 403, "read_only": 200}
EDIT = VIEW | {"read_only": 403}
SALTING = EDIT | {"staff": 403}
DELETE = EDIT | {"organizer": 403}

PAGES = {
    "organization_list": VIEW,
    "organization_detail": VIEW,
    "organization_create": EDIT,
    "organization_update": EDIT,
    "organization_salting": SALTING,
    "organization_delete": DELETE,
    "organization_restore": DELETE,
    "contact_list": VIEW,
    "contact_create": EDIT,
    "contact_update": EDIT,
    "contact_delete": DELETE,
    "contact_restore": DELETE,
}


def page_url(page):
    """The page's URL for fresh objects (restore pages get a deleted one)."""
    if page in ("organization_list", "organization_create", "contact_list"):
        return url(page)
    if page == "organization_restore":
        organization = EmployerFactory()
        organization.soft_delete(reason="closed")
        return url(page, organization.pk)
    if page.startswith("organization_") or page == "contact_create":
        return url(page, EmployerFactory().pk)
    contact = OrganizationContactFactory()
    if page == "contact_restore":
        contact.soft_delete(reason="left")
    return url(page, contact.pk)


@pytest.mark.parametrize("page", PAGES)
def test_page_permission_per_role(role_client, any_role, page):
    response = role_client(any_role).get(page_url(page))

    assert response.status_code == PAGES[page][any_role]


def test_contact_make_primary_permission_per_role(role_client, any_role):
    contact = OrganizationContactFactory()

    response = role_client(any_role).post(url("contact_make_primary", contact.pk))

    contact.refresh_from_db()
    assert response.status_code == {200: 302, 403: 403}[EDIT[any_role]]
    assert contact.is_primary is (EDIT[any_role] == 200)


def test_organization_delete_is_forbidden_to_an_organizer_on_post(role_client):
    organization = OrganizationFactory()

    response = role_client("organizer").post(url("organization_delete", organization.pk), {"reason": "Closed"})

    assert response.status_code == 403
    assert Organization.objects.filter(pk=organization.pk).exists()


def test_organization_pages_send_anonymous_visitors_to_the_login_page(client):
    response = client.get(ORGANIZATIONS)

    assert (response.status_code, response["Location"]) == (302, f"{reverse('login')}?next={ORGANIZATIONS}")
