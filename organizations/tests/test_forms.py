"""Organization and contact forms: the salting permission, and the messages each rule gives."""

import pytest

from organizations.factories import EmployerFactory, OrganizationFactory
from organizations.forms import (
    OrganizationContactCreateForm,
    OrganizationContactForm,
    OrganizationForm,
    OrganizationSaltingForm,
)
from organizations.models import OrganizationContact, OrganizationType, SaltingScore

pytestmark = pytest.mark.django_db


def organization_data(**changes):
    return {"name": "Sparks Electric", "org_type": OrganizationType.EMPLOYER, "state": "WA"} | changes


def test_organization_form_has_salting_fields_only_with_the_salting_permission(make_user):
    staff, organizer = make_user("staff", username="staffer"), make_user("organizer", username="organizer")

    assert "salting_score" not in OrganizationForm(user=staff).fields
    assert {"salting_score", "salting_notes"} <= set(OrganizationForm(user=organizer).fields)


def test_organization_form_ignores_posted_salting_values_without_the_salting_permission(make_user):
    organization = EmployerFactory(salting_score=SaltingScore.NEUTRAL, salting_notes="Owner is friendly")
    data = organization_data(salting_score=SaltingScore.HOSTILE, salting_notes="Changed")

    form = OrganizationForm(data, instance=organization, user=make_user("staff"))
    form.save()

    organization.refresh_from_db()
    assert (organization.salting_score, organization.salting_notes) == (SaltingScore.NEUTRAL, "Owner is friendly")


def test_organization_form_requires_a_name(make_user):
    form = OrganizationForm(organization_data(name="   "), user=make_user("staff"))

    assert form.errors == {"name": ["This field is required."]}


def test_organization_form_refuses_a_salting_score_on_a_non_employer(make_user):
    data = organization_data(org_type=OrganizationType.UNION, salting_score=SaltingScore.RECEPTIVE)

    form = OrganizationForm(data, user=make_user("organizer"))

    assert form.errors == {"__all__": ["Only employers can have a salting score."]}


def test_organization_form_accepts_a_salting_score_on_an_employer(make_user):
    form = OrganizationForm(organization_data(salting_score=SaltingScore.RECEPTIVE), user=make_user("organizer"))

    assert form.is_valid()


def test_organization_form_upper_cases_the_state(make_user):
    form = OrganizationForm(organization_data(state="wa"), user=make_user("staff"))

    assert (form.is_valid(), form.cleaned_data["state"]) == (True, "WA")


def test_organization_form_refuses_a_state_that_is_not_a_two_letter_code(make_user):
    form = OrganizationForm(organization_data(state="W1"), user=make_user("staff"))

    assert form.errors == {"state": ["Use the two-letter state code, e.g. WA."]}


def test_organization_form_refuses_an_unknown_type(make_user):
    form = OrganizationForm(organization_data(org_type="vendor"), user=make_user("staff"))

    assert form.errors == {"org_type": ["Select a valid choice. vendor is not one of the available choices."]}


def test_organization_salting_form_refuses_a_score_outside_one_to_five():
    form = OrganizationSaltingForm({"salting_score": "6"}, instance=EmployerFactory())

    assert form.errors == {"salting_score": ["Select a valid choice. 6 is not one of the available choices."]}


def test_organization_salting_form_saves_score_and_notes():
    organization = EmployerFactory()

    form = OrganizationSaltingForm(
        {"salting_score": SaltingScore.SUPPORTIVE, "salting_notes": "Two salts hired"}, instance=organization
    )
    form.save()

    organization.refresh_from_db()
    assert (organization.salting_score, organization.salting_notes) == (SaltingScore.SUPPORTIVE, "Two salts hired")


def test_organization_contact_form_requires_both_names():
    form = OrganizationContactForm({"first_name": "", "last_name": ""})

    assert form.errors == {"first_name": ["This field is required."], "last_name": ["This field is required."]}


def test_organization_contact_form_refuses_a_malformed_email():
    form = OrganizationContactForm({"first_name": "Ana", "last_name": "Ruiz", "email": "ana-at-example"})

    assert form.errors == {"email": ["Enter a valid email address."]}


def test_organization_contact_form_leaves_primary_to_the_make_primary_action():
    assert "is_primary" not in OrganizationContactForm().fields


def test_organization_contact_create_form_offers_primary():
    form = OrganizationContactCreateForm(
        {"first_name": "Ana", "last_name": "Ruiz", "is_primary": "on"},
        instance=OrganizationContact(organization=OrganizationFactory()),
    )

    assert (form.is_valid(), form.cleaned_data["is_primary"]) == (True, True)
