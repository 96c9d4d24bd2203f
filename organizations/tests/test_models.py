"""The organizations data layer holds DOMAIN.md §4.1: every [DB] rule is enforced by PostgreSQL and shown by forms."""

import pytest
from django.db import models
from django.forms import modelform_factory

from ip2a.tests.database_rules import (
    constraint,
    constraint_messages,
    form_messages,
    index_definition,
    message,
    violates,
)
from organizations.factories import EmployerFactory, OrganizationContactFactory, OrganizationFactory
from organizations.models import Organization, OrganizationContact, OrganizationType

pytestmark = pytest.mark.django_db

MODELS = [Organization, OrganizationContact]


ORGANIZATION_FIELDS = ["name", "org_type", "salting_score"]
CONTACT_FIELDS = ["organization", "first_name", "last_name", "is_primary"]


# --- Declarations ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model_constraint", [(m, c) for m in MODELS for c in m._meta.constraints], ids=lambda mc: mc[1].name
)
def test_constraint_is_named_by_house_rule_and_declares_a_sentence(model_constraint):
    model, rule = model_constraint

    assert rule.name.startswith(f"{model._meta.app_label}_{model._meta.model_name}_")
    assert rule.violation_error_message != rule.default_violation_error_message
    assert rule.violation_error_message[0].isupper()
    assert rule.violation_error_message.endswith(".")


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (m, f.name)
        for m in MODELS
        for f in m._meta.concrete_fields
        if isinstance(f, models.CharField) and not f.blank and not f.choices
    ],
)
def test_required_text_field_has_a_not_blank_check(model, field):
    assert constraint(model, f"{field}_not_blank")


def test_contact_organization_is_a_protected_foreign_key_named_contacts():
    field = OrganizationContact._meta.get_field("organization")

    assert field.remote_field.on_delete is models.PROTECT
    assert field.remote_field.related_name == "contacts"


def test_organization_name_has_an_upper_case_index():
    assert "USING btree (upper((name)::text))" in index_definition("org_name_upper_idx")


def test_one_primary_contact_is_a_partial_unique_index_on_live_rows():
    definition = index_definition("organizations_organizationcontact_one_primary_contact")

    assert definition.startswith("CREATE UNIQUE INDEX")
    assert definition.endswith("(organization_id) WHERE ((deleted_at IS NULL) AND is_primary)")


# --- Organization ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("org_type", [t for t in OrganizationType if t != OrganizationType.EMPLOYER])
def test_salting_score_on_a_non_employer_is_rejected_by_the_database(org_type):
    organization = OrganizationFactory(org_type=org_type)

    with violates("organizations_organization_salting_employer_only"):
        Organization.objects.filter(pk=organization.pk).update(salting_score=3)


def test_salting_score_on_a_non_employer_shows_the_message_in_the_form():
    errors = form_messages(
        Organization, ORGANIZATION_FIELDS, {"name": "IBEW", "org_type": "union", "salting_score": 3}
    )

    assert message(Organization, "salting_employer_only") in errors


def test_salting_score_on_an_employer_is_accepted():
    form = modelform_factory(Organization, fields=ORGANIZATION_FIELDS)(
        data={"name": "Sparks Electric", "org_type": "employer", "salting_score": 5}
    )

    assert form.is_valid(), form.errors
    assert form.save().salting_score == 5


@pytest.mark.parametrize("score", [0, 6])
def test_salting_score_outside_one_to_five_is_rejected_by_the_database(score):
    organization = EmployerFactory()

    with violates("organizations_organization_salting_score_valid"):
        Organization.objects.filter(pk=organization.pk).update(salting_score=score)


@pytest.mark.parametrize("score", [0, 6])
def test_salting_score_outside_one_to_five_shows_the_message(score):
    organization = EmployerFactory.build(salting_score=score)

    assert message(Organization, "salting_score_valid") in constraint_messages(organization, full_clean=False)


def test_unknown_org_type_is_rejected_by_the_database():
    organization = OrganizationFactory()

    with violates("organizations_organization_org_type_valid"):
        Organization.objects.filter(pk=organization.pk).update(org_type="EMPLOYER")


def test_unknown_org_type_shows_the_message():
    organization = OrganizationFactory.build(org_type="vendor")

    assert message(Organization, "org_type_valid") in constraint_messages(organization, full_clean=False)


def test_blank_organization_name_is_rejected_by_the_database():
    organization = OrganizationFactory()

    with violates("organizations_organization_name_not_blank"):
        Organization.objects.filter(pk=organization.pk).update(name="  ")


def test_blank_organization_name_shows_the_message():
    organization = OrganizationFactory.build(name="   ")

    assert message(Organization, "name_not_blank") in constraint_messages(organization)


# --- OrganizationContact ---------------------------------------------------------------------------------


def test_second_live_primary_contact_is_rejected_by_the_database():
    organization = OrganizationFactory()
    OrganizationContactFactory(organization=organization, is_primary=True)
    other = OrganizationContactFactory(organization=organization)

    with violates("organizations_organizationcontact_one_primary_contact"):
        OrganizationContact.objects.filter(pk=other.pk).update(is_primary=True)


def test_second_live_primary_contact_shows_the_message():
    organization = OrganizationFactory()
    OrganizationContactFactory(organization=organization, is_primary=True)
    contact = OrganizationContact(organization=organization, first_name="Ana", last_name="Ruiz", is_primary=True)

    assert message(OrganizationContact, "one_primary_contact") in constraint_messages(contact)


def test_second_live_primary_contact_shows_the_message_in_a_model_form():
    organization = OrganizationFactory()
    OrganizationContactFactory(organization=organization, is_primary=True)

    errors = form_messages(
        OrganizationContact,
        CONTACT_FIELDS,
        {"organization": organization.pk, "first_name": "Ana", "last_name": "Ruiz", "is_primary": "on"},
    )

    assert message(OrganizationContact, "one_primary_contact") in errors


def test_soft_deleted_primary_contact_does_not_block_a_new_primary():
    organization = OrganizationFactory()
    OrganizationContactFactory(organization=organization, is_primary=True).soft_delete(reason="left the company")
    contact = OrganizationContact(organization=organization, first_name="Ana", last_name="Ruiz", is_primary=True)

    assert constraint_messages(contact) == []
    contact.save()
    assert OrganizationContact.all_objects.filter(organization=organization, is_primary=True).count() == 2


def test_primary_contacts_of_different_organizations_do_not_collide():
    OrganizationContactFactory(is_primary=True)
    contact = OrganizationContactFactory(is_primary=True)

    assert contact.is_primary


@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_blank_contact_name_is_rejected_by_the_database(field):
    contact = OrganizationContactFactory()

    with violates(f"organizations_organizationcontact_{field}_not_blank"):
        OrganizationContact.objects.filter(pk=contact.pk).update(**{field: ""})


@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_blank_contact_name_shows_the_message(field):
    contact = OrganizationContactFactory.build(organization=OrganizationFactory(), **{field: " "})

    assert message(OrganizationContact, f"{field}_not_blank") in constraint_messages(contact)


def test_contact_is_not_primary_by_default():
    assert OrganizationContact._meta.get_field("is_primary").default is False
