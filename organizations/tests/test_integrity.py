import datetime

import pytest
from django.utils import timezone

import organizations.integrity  # noqa: F401  (registers the checks)
from ip2a.integrity import CHECKS, CheckContext, apply_repairs, run_check
from ip2a.tests.database_rules import drop_rule, execute, last_event
from organizations.factories import EmployerFactory, OrganizationContactFactory, OrganizationFactory
from organizations.models import Organization, OrganizationContact, OrganizationType

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 6, 15)
RUN_ID = 4242
CHECK_IDS = ["ORG-001", "ORG-002", "ORG-003", "ORG-004", "ORG-005", "CON-001", "CON-002", "CON-003", "CON-004"]


def check(check_id):
    return run_check(CHECKS[check_id], CheckContext(today=TODAY))


def repair_context(event):
    return {"source": event.pgh_context["source"], "reason": event.pgh_context["reason"]}


def repaired_by(check_id):
    return {"source": "repair", "reason": f"integrity repair {check_id} run {RUN_ID}"}


def with_primary_contact(organization):
    OrganizationContactFactory(organization=organization, is_primary=True)
    return organization


@pytest.fixture
def clean_data():
    employer = with_primary_contact(EmployerFactory(salting_score=4, salting_notes="Friendly foreman"))
    with_primary_contact(OrganizationFactory(org_type=OrganizationType.UNION))
    OrganizationContactFactory(organization=employer, is_primary=False)
    deleted = with_primary_contact(OrganizationFactory(name=employer.name.upper()))
    deleted.soft_delete(reason="closed")  # with its contacts
    return employer


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_checks_find_nothing_in_clean_data(clean_data, check_id):
    assert check(check_id) == []


# ORG-001


def test_organizations_have_name_and_type_reports_blank_name_of_deleted_organization():
    organization = with_primary_contact(OrganizationFactory())
    organization.soft_delete(reason="closed")
    drop_rule(Organization, "name_not_blank")
    Organization.all_objects.filter(pk=organization.pk).update(name="   ")

    [issue] = check("ORG-001")

    assert (issue.object_ids, issue.details) == (
        [organization.pk],
        {"organization_id": organization.pk, "fields": ["name"]},
    )


def test_organizations_have_name_and_type_reports_missing_type_and_is_manual():
    organization = with_primary_contact(OrganizationFactory())
    execute(f"ALTER TABLE {Organization._meta.db_table} ALTER COLUMN org_type DROP NOT NULL")
    drop_rule(Organization, "name_not_blank")
    # Replica mode: the history table's org_type column stays NOT NULL.
    execute(
        f"UPDATE {Organization._meta.db_table} SET org_type = NULL, name = '' WHERE id = %s",
        [organization.pk],
        replica=True,
    )

    [issue] = check("ORG-001")

    assert (issue.object_ids, issue.details, issue.repair, issue.fix) == (
        [organization.pk],
        {"organization_id": organization.pk, "fields": ["name", "org_type"]},
        None,
        None,
    )


# ORG-002


def test_organization_types_are_valid_reports_value_not_stored_lowercase():
    organization = with_primary_contact(OrganizationFactory())
    drop_rule(Organization, "org_type_valid")
    Organization.all_objects.filter(pk=organization.pk).update(org_type="Employer")

    [issue] = check("ORG-002")

    assert (issue.object_ids, issue.details, issue.repair, issue.fix) == (
        [organization.pk],
        {"organization_id": organization.pk, "org_type": "Employer"},
        None,
        None,
    )


# ORG-003


def test_salting_scores_are_on_employers_within_range_repairs_score_on_non_employer():
    organization = with_primary_contact(EmployerFactory(salting_score=3, salting_notes="Met the owner"))
    drop_rule(Organization, "salting_employer_only")
    Organization.all_objects.filter(pk=organization.pk).update(org_type=OrganizationType.UNION)

    [issue] = check("ORG-003")
    assert (issue.object_ids, issue.details, issue.repair) == (
        [organization.pk],
        {"organization_id": organization.pk, "org_type": "union", "salting_score": 3},
        "clear salting_score (salting notes kept)",
    )
    results = apply_repairs([issue], run_id=RUN_ID)

    organization.refresh_from_db()
    assert [result.status for result in results] == ["applied"]
    assert (organization.salting_score, organization.salting_notes) == (None, "Met the owner")
    assert check("ORG-003") == []
    assert repair_context(last_event(Organization, organization.pk)) == repaired_by("ORG-003")


def test_salting_scores_are_on_employers_within_range_repairs_out_of_range_score_of_deleted_employer():
    organization = with_primary_contact(EmployerFactory(salting_score=2))
    organization.soft_delete(reason="closed")
    drop_rule(Organization, "salting_score_valid")
    Organization.all_objects.filter(pk=organization.pk).update(salting_score=7)

    [issue] = check("ORG-003")
    assert issue.details == {"organization_id": organization.pk, "org_type": "employer", "salting_score": 7}
    apply_repairs([issue], run_id=RUN_ID)

    assert Organization.all_objects.get(pk=organization.pk).salting_score is None
    assert check("ORG-003") == []


def test_salting_scores_are_on_employers_within_range_repair_is_idempotent():
    organization = with_primary_contact(EmployerFactory(salting_score=3))
    drop_rule(Organization, "salting_employer_only")
    Organization.all_objects.filter(pk=organization.pk).update(org_type=OrganizationType.JATC)
    issues = check("ORG-003")
    apply_repairs(issues, run_id=RUN_ID)
    events_before = Organization.pgh_event_model.objects.filter(pgh_obj_id=organization.pk).count()

    results = apply_repairs(issues, run_id=RUN_ID + 1)

    assert [result.status for result in results] == ["applied"]
    assert Organization.pgh_event_model.objects.filter(pgh_obj_id=organization.pk).count() == events_before


# ORG-004


def test_live_organizations_have_live_contacts_reports_organization_with_only_deleted_contacts():
    lonely = OrganizationFactory()
    OrganizationContactFactory(organization=lonely, is_primary=True).soft_delete(reason="left")
    OrganizationFactory().soft_delete(reason="closed")  # deleted organizations are not reported

    [issue] = check("ORG-004")

    assert (issue.object_ids, issue.details, issue.repair, issue.fix) == (
        [lonely.pk],
        {"organization_id": lonely.pk},
        None,
        None,
    )


# ORG-005


def test_live_organization_names_are_distinct_groups_names_ignoring_case_and_deleted_rows():
    first = with_primary_contact(OrganizationFactory(name="Acme Electric"))
    second = with_primary_contact(OrganizationFactory(name="ACME ELECTRIC", org_type=OrganizationType.UNION))
    with_primary_contact(OrganizationFactory(name="acme electric")).soft_delete(reason="duplicate")

    [issue] = check("ORG-005")

    assert (issue.object_ids, issue.details, issue.repair, issue.fix) == (
        [first.pk, second.pk],
        {"name": "Acme Electric", "organization_ids": [first.pk, second.pk]},
        None,
        None,
    )


# CON-001


@pytest.mark.parametrize("deleted", [False, True], ids=["live", "deleted"])
def test_contacts_have_an_organization_deletes_orphan_contact(deleted):
    organization = OrganizationFactory()
    contact = OrganizationContactFactory(organization=organization, is_primary=True)
    if deleted:
        contact.soft_delete(reason="left")
    missing_id = organization.pk + 1000
    execute(
        f"UPDATE {OrganizationContact._meta.db_table} SET organization_id = %s WHERE id = %s",
        [missing_id, contact.pk],
        replica=True,
    )

    [issue] = check("CON-001")
    assert (issue.object_ids, issue.details, issue.repair) == (
        [contact.pk],
        {"contact_id": contact.pk, "organization_id": missing_id},
        "delete the contact row",
    )
    apply_repairs([issue], run_id=RUN_ID)

    assert not OrganizationContact.all_objects.filter(pk=contact.pk).exists()
    assert check("CON-001") == []
    event = last_event(OrganizationContact, contact.pk)
    assert (event.pgh_label, repair_context(event)) == ("delete", repaired_by("CON-001"))


# CON-002


def test_organizations_have_at_most_one_primary_contact_keeps_most_recently_updated():
    organization = OrganizationFactory()
    drop_rule(OrganizationContact, "one_primary_contact")
    older = OrganizationContactFactory(organization=organization, is_primary=True)
    newer = OrganizationContactFactory(organization=organization, is_primary=True)
    OrganizationContactFactory(organization=organization, is_primary=True).soft_delete(reason="left")
    OrganizationContact.all_objects.filter(pk=older.pk).update(updated_at=timezone.now() - datetime.timedelta(days=3))

    [issue] = check("CON-002")
    assert (issue.object_ids, issue.details) == (
        [older.pk, newer.pk],
        {
            "organization_id": organization.pk,
            "contact_ids": [older.pk, newer.pk],
            "keep_id": newer.pk,
            "demote_ids": [older.pk],
        },
    )
    assert issue.repair == f"keep contact #{newer.pk} (most recently updated) as primary; demote the others"
    apply_repairs([issue], run_id=RUN_ID)

    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.is_primary, newer.is_primary) == (False, True)
    assert check("CON-002") == []
    assert repair_context(last_event(OrganizationContact, older.pk)) == repaired_by("CON-002")


def test_organizations_have_at_most_one_primary_contact_covers_deleted_organizations():
    organization = OrganizationFactory()
    drop_rule(OrganizationContact, "one_primary_contact")
    contacts = OrganizationContactFactory.create_batch(2, organization=organization, is_primary=True)
    Organization.all_objects.filter(pk=organization.pk).update(deleted_at=timezone.now())

    [issue] = check("CON-002")

    assert issue.object_ids == sorted(contact.pk for contact in contacts)


# CON-003


def test_organizations_with_contacts_have_a_primary_reports_live_organization_only():
    organization = OrganizationFactory()
    contacts = OrganizationContactFactory.create_batch(2, organization=organization, is_primary=False)
    deleted = OrganizationFactory()
    OrganizationContactFactory(organization=deleted, is_primary=False)
    deleted.soft_delete(reason="closed")

    [issue] = check("CON-003")

    assert (issue.object_ids, issue.details, issue.repair, issue.fix) == (
        [organization.pk],
        {"organization_id": organization.pk, "contact_ids": sorted(contact.pk for contact in contacts)},
        None,
        None,
    )


# CON-004


def test_live_contacts_belong_to_live_organizations_soft_deletes_contact_with_organization():
    organization = OrganizationFactory()
    contact = OrganizationContactFactory(organization=organization, is_primary=True)
    OrganizationContactFactory(organization=organization).soft_delete(reason="left")  # not reported
    deleted_at = timezone.now() - datetime.timedelta(days=2)
    Organization.all_objects.filter(pk=organization.pk).update(deleted_at=deleted_at)  # bypasses the cascade

    [issue] = check("CON-004")
    assert (issue.object_ids, issue.details, issue.repair) == (
        [contact.pk],
        {"contact_id": contact.pk, "organization_id": organization.pk},
        "soft-delete the contact",
    )
    apply_repairs([issue], run_id=RUN_ID)

    assert OrganizationContact.all_objects.get(pk=contact.pk).deleted_at == deleted_at
    assert check("CON-004") == []
    assert repair_context(last_event(OrganizationContact, contact.pk)) == repaired_by("CON-004")


def test_live_contacts_belong_to_live_organizations_repair_lets_organization_restore_contact():
    organization = OrganizationFactory()
    contact = OrganizationContactFactory(organization=organization, is_primary=True)
    Organization.all_objects.filter(pk=organization.pk).update(deleted_at=timezone.now())
    apply_repairs(check("CON-004"), run_id=RUN_ID)
    organization.refresh_from_db()

    organization.restore(reason="reopened")

    assert OrganizationContact.objects.filter(pk=contact.pk).exists()
