"""Organization and contact services: their rules, and nothing half-written when a step fails."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError

from members.factories import MemberEmploymentFactory
from organizations.factories import OrganizationContactFactory, OrganizationFactory
from organizations.models import Organization, OrganizationContact
from organizations.services import (
    contact_create,
    contact_make_primary,
    contact_restore,
    organization_restore,
    organization_soft_delete,
)

pytestmark = pytest.mark.django_db


def test_organization_soft_delete_hides_its_contacts_with_the_same_timestamp():
    organization = OrganizationFactory()
    contacts = OrganizationContactFactory.create_batch(2, organization=organization)

    organization_soft_delete(organization=organization, reason="Went out of business")

    organization.refresh_from_db()
    stamps = {OrganizationContact.all_objects.get(pk=contact.pk).deleted_at for contact in contacts}
    assert stamps == {organization.deleted_at}
    assert organization.deleted_at is not None


def test_organization_soft_delete_records_the_reason_in_history():
    organization = OrganizationFactory()

    organization_soft_delete(organization=organization, reason="Went out of business")

    assert organization.events.order_by("pgh_id").last().pgh_context["reason"] == "Went out of business"


def test_organization_soft_delete_is_refused_while_someone_works_there():
    employment = MemberEmploymentFactory()
    contact = OrganizationContactFactory(organization=employment.organization)

    with pytest.raises(ValidationError, match="Members currently work here; end their jobs"):
        organization_soft_delete(organization=employment.organization, reason="Closed")

    assert Organization.objects.filter(pk=employment.organization_id).exists()
    assert OrganizationContact.objects.filter(pk=contact.pk).exists()


def test_organization_soft_delete_is_allowed_when_every_job_there_has_ended():
    employment = MemberEmploymentFactory(end_date=datetime.date(2024, 5, 31))

    organization_soft_delete(organization=employment.organization, reason="Closed")

    assert not Organization.objects.filter(pk=employment.organization_id).exists()


def test_organization_soft_delete_requires_a_reason():
    organization = OrganizationFactory()

    with pytest.raises(ValidationError, match="A reason is required to delete an organization."):
        organization_soft_delete(organization=organization, reason="  ")

    assert Organization.objects.filter(pk=organization.pk).exists()


def test_organization_restore_brings_back_exactly_the_contacts_deleted_with_it():
    organization = OrganizationFactory()
    earlier = OrganizationContactFactory(organization=organization)
    earlier.soft_delete(reason="left the company")
    with_it = OrganizationContactFactory(organization=organization, is_primary=True)
    organization_soft_delete(organization=organization, reason="Closed")

    organization_restore(organization=organization, reason="Reopened")

    assert list(OrganizationContact.objects.filter(organization=organization)) == [with_it]
    assert OrganizationContact.all_objects.get(pk=earlier.pk).deleted_at is not None
    assert Organization.objects.filter(pk=organization.pk).exists()


def test_organization_restore_brings_contacts_back_non_primary_next_to_a_newer_primary():
    organization = OrganizationFactory()
    old_primary = OrganizationContactFactory(organization=organization, is_primary=True)
    organization_soft_delete(organization=organization, reason="Closed")
    new_primary = OrganizationContactFactory(organization=organization, is_primary=True)  # e.g. by an import

    organization_restore(organization=organization, reason="Reopened")

    old_primary.refresh_from_db()
    new_primary.refresh_from_db()
    assert (old_primary.deleted_at, old_primary.is_primary, new_primary.is_primary) == (None, False, True)


def test_organization_restore_refuses_a_live_organization():
    organization = OrganizationFactory()

    with pytest.raises(ValidationError, match="is not deleted"):
        organization_restore(organization=organization, reason="Reopened")


def test_contact_create_makes_an_organizations_first_contact_primary():
    organization = OrganizationFactory()

    contact = contact_create(organization=organization, first_name="Ana", last_name="Ruiz")

    assert OrganizationContact.objects.get(pk=contact.pk).is_primary is True


def test_contact_create_adds_later_contacts_as_regular_ones():
    primary = OrganizationContactFactory(is_primary=True)

    contact = contact_create(organization=primary.organization, first_name="Ana", last_name="Ruiz")

    primary.refresh_from_db()
    assert (OrganizationContact.objects.get(pk=contact.pk).is_primary, primary.is_primary) == (False, True)


def test_contact_create_as_primary_demotes_the_previous_primary():
    primary = OrganizationContactFactory(is_primary=True)

    contact = contact_create(organization=primary.organization, first_name="Ana", last_name="Ruiz", is_primary=True)

    primary.refresh_from_db()
    assert (OrganizationContact.objects.get(pk=contact.pk).is_primary, primary.is_primary) == (True, False)


def test_contact_create_stores_trimmed_names_and_a_lower_case_email():
    organization = OrganizationFactory()

    contact = contact_create(organization=organization, first_name=" Ana ", last_name="Ruiz", email="Ana@Example.ORG")

    contact.refresh_from_db()
    assert (contact.first_name, contact.email) == ("Ana", "ana@example.org")


def test_contact_create_refuses_a_deleted_organization():
    organization = OrganizationFactory()
    organization.soft_delete(reason="Closed")

    with pytest.raises(ValidationError, match="This organization is deleted; restore it before adding contacts."):
        contact_create(organization=organization, first_name="Ana", last_name="Ruiz")

    assert not OrganizationContact.all_objects.filter(organization=organization).exists()


def test_contact_create_keeps_the_old_primary_when_the_new_contact_is_invalid():
    primary = OrganizationContactFactory(is_primary=True)

    with pytest.raises(ValidationError) as raised:
        contact_create(organization=primary.organization, first_name="Ana", last_name=" ", is_primary=True)

    primary.refresh_from_db()
    assert raised.value.messages == ["Last name may not be blank."]
    assert primary.is_primary is True
    assert OrganizationContact.objects.filter(organization=primary.organization).count() == 1


def test_contact_make_primary_demotes_the_previous_primary():
    primary = OrganizationContactFactory(is_primary=True)
    contact = OrganizationContactFactory(organization=primary.organization)

    contact_make_primary(contact=contact)

    primary.refresh_from_db()
    contact.refresh_from_db()
    assert (primary.is_primary, contact.is_primary) == (False, True)


def test_contact_make_primary_records_why_in_history():
    contact = OrganizationContactFactory()

    contact_make_primary(contact=contact)

    assert contact.events.order_by("pgh_id").last().pgh_context["reason"] == f"made {contact} the primary contact"


def test_contact_make_primary_keeps_the_old_primary_when_the_promotion_fails(monkeypatch):
    primary = OrganizationContactFactory(is_primary=True)
    contact = OrganizationContactFactory(organization=primary.organization)

    def failing_save(self, *args, **kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(OrganizationContact, "save", failing_save)  # the promotion is the second write
    with pytest.raises(DatabaseError):
        contact_make_primary(contact=contact)

    primary.refresh_from_db()
    contact.refresh_from_db()
    assert (primary.is_primary, contact.is_primary) == (True, False)


def test_contact_make_primary_refuses_a_deleted_contact():
    contact = OrganizationContactFactory()
    contact.soft_delete(reason="left")

    with pytest.raises(ValidationError, match="This contact is deleted"):
        contact_make_primary(contact=contact)


def test_contact_restore_comes_back_non_primary_next_to_a_newer_primary():
    contact = OrganizationContactFactory(is_primary=True)
    contact.soft_delete(reason="left")
    new_primary = OrganizationContactFactory(organization=contact.organization, is_primary=True)

    contact_restore(contact=contact, reason="came back")

    contact.refresh_from_db()
    new_primary.refresh_from_db()
    assert (contact.deleted_at, contact.is_primary, new_primary.is_primary) == (None, False, True)


def test_contact_restore_refuses_a_contact_of_a_deleted_organization():
    contact = OrganizationContactFactory()
    organization_soft_delete(organization=contact.organization, reason="Closed")

    with pytest.raises(ValidationError, match="restore the organization first"):
        contact_restore(contact=contact, reason="came back")

    assert OrganizationContact.all_objects.get(pk=contact.pk).deleted_at is not None
