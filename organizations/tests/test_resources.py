"""Organization resources: matching by id, salting columns only for holders of the salting permission."""

import pytest
import tablib
from django.contrib.auth.models import Permission

from organizations.factories import EmployerFactory, OrganizationContactFactory
from organizations.models import SaltingScore
from organizations.resources import OrganizationContactResource, OrganizationResource

pytestmark = pytest.mark.django_db


def import_csv(resource, csv_text: str, **kwargs):
    return resource.import_data(tablib.Dataset().load(csv_text, format="csv"), **kwargs)


def salting_csv(organization, score: int) -> str:
    return (
        "id,name,org_type,salting_score,salting_notes\n"
        f"{organization.pk},{organization.name},employer,{score},Receptive foreman\n"
    )


def test_organization_import_ignores_salting_columns_without_the_salting_permission(make_user):
    organization = EmployerFactory(salting_score=SaltingScore.NEUTRAL)
    user = make_user(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["add_organization", "change_organization"]))

    result = import_csv(OrganizationResource(), salting_csv(organization, SaltingScore.RECEPTIVE), user=user)

    organization.refresh_from_db()
    assert [row.import_type for row in result.rows] == ["skip"]
    assert (organization.salting_score, organization.salting_notes) == (SaltingScore.NEUTRAL, "")


def test_organization_import_sets_salting_columns_with_the_salting_permission(make_user):
    organization = EmployerFactory(salting_score=SaltingScore.NEUTRAL)

    result = import_csv(
        OrganizationResource(), salting_csv(organization, SaltingScore.RECEPTIVE), user=make_user("organizer")
    )

    organization.refresh_from_db()
    assert [row.import_type for row in result.rows] == ["update"]
    assert (organization.salting_score, organization.salting_notes) == (SaltingScore.RECEPTIVE, "Receptive foreman")


def test_organization_round_trip_leaves_the_database_unchanged():
    EmployerFactory(name='=HYPERLINK("x")', phone="+1 206 555 0100", salting_score=SaltingScore.SUPPORTIVE)

    result = import_csv(OrganizationResource(), OrganizationResource().export().csv)

    assert [row.import_type for row in result.rows] == ["skip"]


def test_contact_round_trip_leaves_the_database_unchanged():
    OrganizationContactFactory(is_primary=True, phone="+1 425 555 0199")

    result = import_csv(OrganizationContactResource(), OrganizationContactResource().export().csv)

    assert [row.import_type for row in result.rows] == ["skip"]


def test_contact_import_of_a_new_primary_contact_demotes_the_previous_one():
    primary = OrganizationContactFactory(is_primary=True)
    csv = f"organization,first_name,last_name,is_primary\n{primary.organization_id},Ana,Ruiz,1\n"

    result = import_csv(OrganizationContactResource(), csv)

    assert [row.import_type for row in result.rows] == ["new"]
    primary.refresh_from_db()
    assert primary.is_primary is False
    assert primary.organization.contacts.get(is_primary=True).first_name == "Ana"
