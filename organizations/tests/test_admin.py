"""Admin of organizations and contacts: query budgets, salting permission, soft-delete rules."""

import pytest
from django.contrib.admin import helpers
from django.contrib.auth.models import Permission
from django.urls import reverse

from members.factories import MemberEmploymentFactory
from organizations.factories import EmployerFactory, OrganizationContactFactory, OrganizationFactory
from organizations.models import Organization, OrganizationContact, SaltingScore

pytestmark = pytest.mark.django_db

ORGANIZATIONS = reverse("admin:organizations_organization_changelist")
CONTACTS = reverse("admin:organizations_organizationcontact_changelist")


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("admin", is_staff=True))
    return client


@pytest.fixture
def editor_client(client, make_user):
    """A user who may use the admin and edit organizations, without the salting permission."""
    user = make_user(is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="organizations", codename__in=["view_organization", "change_organization"]
        )
    )
    client.force_login(user)
    return client


def change_data(organization, **changes):
    data = {
        "name": organization.name,
        "org_type": organization.org_type,
        "address_line1": "",
        "address_line2": "",
        "city": organization.city,
        "state": organization.state,
        "postal_code": "",
        "phone": "",
        "email": "",
        "website": "",
        "salting_score": organization.salting_score or "",
        "salting_notes": organization.salting_notes,
        "notes": "",
    }
    return data | changes


def test_organization_changelist_within_query_budget(admin_client, django_assert_max_num_queries):
    OrganizationFactory.create_batch(30)

    # session, user, user and group permissions, count, full count, page, session renewal (3) + 1 spare
    with django_assert_max_num_queries(11):
        response = admin_client.get(ORGANIZATIONS)

    assert len(response.context["cl"].result_list) == 30


def test_contact_changelist_within_query_budget(admin_client, django_assert_max_num_queries):
    for organization in OrganizationFactory.create_batch(30):
        OrganizationContactFactory(organization=organization)

    # session, user, user and group permissions, count, full count, page (organizations joined),
    # session renewal (3) + 1 spare
    with django_assert_max_num_queries(11):
        response = admin_client.get(CONTACTS)

    assert len(response.context["cl"].result_list) == 30


def test_salting_fields_are_read_only_without_the_salting_permission(editor_client):
    organization = EmployerFactory()

    response = editor_client.get(reverse("admin:organizations_organization_change", args=[organization.pk]))

    assert {"salting_score", "salting_notes"} <= set(response.context["adminform"].readonly_fields)
    assert "salting_score" not in response.context["adminform"].form.fields


def test_salting_score_is_kept_when_posted_without_the_salting_permission(editor_client):
    organization = EmployerFactory(salting_score=SaltingScore.NEUTRAL)

    editor_client.post(
        reverse("admin:organizations_organization_change", args=[organization.pk]),
        change_data(organization, salting_score=SaltingScore.HOSTILE, notes="Called them"),
    )

    organization.refresh_from_db()
    assert (organization.notes, organization.salting_score) == ("Called them", SaltingScore.NEUTRAL)


def test_salting_score_is_editable_with_the_salting_permission(admin_client):
    organization = EmployerFactory(salting_score=SaltingScore.NEUTRAL)

    admin_client.post(
        reverse("admin:organizations_organization_change", args=[organization.pk]),
        change_data(organization, salting_score=SaltingScore.RECEPTIVE),
    )

    organization.refresh_from_db()
    assert organization.salting_score == SaltingScore.RECEPTIVE


def test_soft_delete_of_an_organization_with_current_jobs_is_refused(admin_client):
    organization = MemberEmploymentFactory().organization

    response = admin_client.post(
        ORGANIZATIONS,
        {
            "action": "soft_delete_selected",
            "index": "0",
            helpers.ACTION_CHECKBOX_NAME: [organization.pk],
            "reason": "Closed",
            "confirm": "1",
        },
        follow=True,
    )

    assert Organization.objects.filter(pk=organization.pk).exists()
    assert [str(message) for message in response.context["messages"]] == [
        f"{organization}: Members currently work here; end their jobs before deleting the organization."
    ]


def test_soft_delete_of_an_organization_hides_its_contacts(admin_client):
    contact = OrganizationContactFactory()

    admin_client.post(
        reverse("admin:organizations_organization_delete", args=[contact.organization_id]),
        {"reason": "Went out of business", "confirm": "1"},
    )

    assert not OrganizationContact.objects.filter(pk=contact.pk).exists()
    assert contact.events.order_by("pgh_id").last().pgh_context["reason"] == "Went out of business"


def test_restored_primary_contact_comes_back_non_primary_when_another_is_primary(admin_client):
    contact = OrganizationContactFactory(is_primary=True)
    contact.soft_delete(reason="left")
    new_primary = OrganizationContactFactory(organization=contact.organization, is_primary=True)

    admin_client.post(
        reverse("admin:organizations_organizationcontact_restore", args=[contact.pk]),
        {"reason": "came back", "confirm": "1"},
    )

    contact.refresh_from_db()
    new_primary.refresh_from_db()
    assert (contact.deleted_at, contact.is_primary, new_primary.is_primary) == (None, False, True)
