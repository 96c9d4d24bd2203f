"""The FilterSets of the organization and contact lists: search, filters and sorting."""

import pytest

from organizations.factories import OrganizationContactFactory, OrganizationFactory
from organizations.filters import OrganizationContactFilterSet, OrganizationFilterSet
from organizations.models import Organization, OrganizationContact, OrganizationType, SaltingScore

pytestmark = pytest.mark.django_db


def organization_names(**params):
    return [organization.name for organization in OrganizationFilterSet(params, Organization.objects.all()).qs]


def contact_names(**params):
    queryset = OrganizationContact.objects.order_by("last_name", "first_name", "pk")
    return [contact.last_name for contact in OrganizationContactFilterSet(params, queryset).qs]


def test_organization_search_matches_part_of_the_name_ignoring_case():
    for name in ("Sparks Electric", "Northwest Sparkle", "Cascade Power"):
        OrganizationFactory(name=name)

    assert organization_names(q="SPARK") == ["Northwest Sparkle", "Sparks Electric"]


def test_organization_search_matches_a_name_prefix():
    OrganizationFactory(name="Cascade Power")
    OrganizationFactory(name="Power Cascade")

    assert organization_names(q="casc") == ["Cascade Power", "Power Cascade"]


def test_organization_filter_by_type():
    OrganizationFactory(name="Local 46", org_type=OrganizationType.UNION)
    OrganizationFactory(name="Sparks Electric", org_type=OrganizationType.EMPLOYER)

    assert organization_names(org_type="union") == ["Local 46"]


def test_organization_filter_by_salting_score():
    OrganizationFactory(name="Friendly", salting_score=SaltingScore.SUPPORTIVE)
    OrganizationFactory(name="Hostile", salting_score=SaltingScore.HOSTILE)
    OrganizationFactory(name="Unrated")

    assert organization_names(salting_score="5") == ["Friendly"]


def test_organization_filter_refuses_an_unknown_salting_score():
    filterset = OrganizationFilterSet({"salting_score": "9"}, Organization.objects.all())

    assert filterset.errors == {"salting_score": ["Select a valid choice. 9 is not one of the available choices."]}


def test_organization_sort_by_type_then_name():
    OrganizationFactory(name="B union", org_type=OrganizationType.UNION)
    OrganizationFactory(name="A union", org_type=OrganizationType.UNION)
    OrganizationFactory(name="C employer", org_type=OrganizationType.EMPLOYER)

    assert organization_names(sort="org_type") == ["C employer", "A union", "B union"]


def test_organization_sort_by_name_descending():
    for name in ("Alpha", "Charlie", "Bravo"):
        OrganizationFactory(name=name)

    assert organization_names(sort="-name") == ["Charlie", "Bravo", "Alpha"]


def test_organization_sort_ends_in_the_primary_key_so_pages_are_stable():
    filterset = OrganizationFilterSet({"sort": "org_type"}, Organization.objects.all())

    assert filterset.qs.query.order_by == ("org_type", "name", "pk")


def test_contact_search_matches_every_word_in_a_name_email_or_phone():
    OrganizationContactFactory(first_name="Ana", last_name="Ruiz")
    OrganizationContactFactory(first_name="Ana", last_name="Lopez")
    OrganizationContactFactory(first_name="Bo", last_name="Ruiz")

    assert contact_names(q="ana ruiz") == ["Ruiz"]


def test_contact_search_matches_email_and_phone():
    OrganizationContactFactory(last_name="Mail", email="dispatch@sparks.example")
    OrganizationContactFactory(last_name="Phone", phone="206-555-0142")
    OrganizationContactFactory(last_name="Other")

    assert (contact_names(q="SPARKS"), contact_names(q="555-0142")) == (["Mail"], ["Phone"])


def test_contact_filter_by_organization():
    contact = OrganizationContactFactory(last_name="Mine")
    OrganizationContactFactory(last_name="Theirs")

    assert contact_names(organization=str(contact.organization_id)) == ["Mine"]


def test_contact_filter_primary_only():
    organization = OrganizationFactory()
    OrganizationContactFactory(organization=organization, last_name="Primary", is_primary=True)
    OrganizationContactFactory(organization=organization, last_name="Regular")

    assert (contact_names(primary="on"), contact_names()) == (["Primary"], ["Primary", "Regular"])


def test_contact_sort_by_organization_then_name():
    OrganizationContactFactory(organization=OrganizationFactory(name="Beta"), last_name="Adams")
    alpha = OrganizationFactory(name="Alpha")
    OrganizationContactFactory(organization=alpha, last_name="Young")
    OrganizationContactFactory(organization=alpha, last_name="Baker")

    assert contact_names(sort="organization") == ["Baker", "Young", "Adams"]
