"""Integrity checks of organizations and their contacts (DOMAIN.md §8: ORG-001 … ORG-005, CON-001 … CON-004)."""

from functools import partial

from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q, Subquery
from django.db.models.functions import Upper
from django.utils import timezone

from ip2a.integrity import CheckContext, Issue, register
from organizations.models import Organization, OrganizationContact, OrganizationType, SaltingScore


def _organization(pk, name) -> str:
    return f'Organization #{pk} "{name}"' if name and name.strip() else f"Organization #{pk}"


@register("ORG-001", severity="critical", model="organizations.Organization")
def organizations_have_name_and_type(context: CheckContext):
    """Every organization, deleted ones included, has a non-blank name and a type."""
    blank_name = ~Q(name__regex=r"\S")
    rows = (
        Organization.all_objects.filter(blank_name | Q(org_type__isnull=True))
        .annotate(blank_name=ExpressionWrapper(blank_name, output_field=BooleanField()))
        .values_list("pk", "blank_name", "org_type")
        .order_by("pk")
    )
    for pk, is_blank, org_type in rows:
        fields = [field for field, missing in (("name", is_blank), ("org_type", org_type is None)) if missing]
        yield Issue(
            message=f"Organization #{pk} has no {' and no '.join(f.replace('_', ' ') for f in fields)}.",
            object_ids=[pk],
            details={"organization_id": pk, "fields": fields},
        )


@register("ORG-002", severity="critical", model="organizations.Organization")
def organization_types_are_valid(context: CheckContext):
    """Every organization's type is one of the stored OrganizationType values."""
    rows = (
        Organization.all_objects.filter(org_type__isnull=False)
        .exclude(org_type__in=OrganizationType.values)
        .values_list("pk", "name", "org_type")
        .order_by("pk")
    )
    for pk, name, org_type in rows:
        yield Issue(
            message=f"{_organization(pk, name)} has the unknown type {org_type!r}.",
            object_ids=[pk],
            details={"organization_id": pk, "org_type": org_type},
        )


# A salting score where none may be: on a non-employer (or an organization without a type), or outside 1–5.
MISPLACED_SALTING_SCORE = Q(salting_score__isnull=False) & (
    Q(org_type__isnull=True) | ~Q(org_type=OrganizationType.EMPLOYER) | ~Q(salting_score__in=SaltingScore.values)
)


def _clear_salting_score(organization_id):
    # Only while the score is still misplaced: a second run never clears a score put right since.
    Organization.all_objects.filter(MISPLACED_SALTING_SCORE, pk=organization_id).update(
        salting_score=None, updated_at=timezone.now()
    )


@register("ORG-003", severity="critical", model="organizations.Organization")
def salting_scores_are_on_employers_within_range(context: CheckContext):
    """Only employers have a salting score, and it lies within 1–5."""
    rows = (
        Organization.all_objects.filter(MISPLACED_SALTING_SCORE)
        .values_list("pk", "name", "org_type", "salting_score")
        .order_by("pk")
    )
    for pk, name, org_type, score in rows:
        if org_type != OrganizationType.EMPLOYER:
            problem = f"is not an employer ({org_type or 'no type'}) but has a salting score of {score}"
        else:
            problem = f"has the salting score {score}, outside 1–5"
        yield Issue(
            message=f"{_organization(pk, name)} {problem}.",
            object_ids=[pk],
            details={"organization_id": pk, "org_type": org_type, "salting_score": score},
            repair="clear salting_score (salting notes kept)",
            fix=partial(_clear_salting_score, pk),
        )


@register("ORG-004", severity="info", model="organizations.Organization")
def live_organizations_have_live_contacts(context: CheckContext):
    """Every live organization has at least one live contact."""
    live_contacts = OrganizationContact.objects.filter(organization=OuterRef("pk"))
    rows = Organization.objects.filter(~Exists(live_contacts)).values_list("pk", "name").order_by("pk")
    for pk, name in rows:
        yield Issue(
            message=f"{_organization(pk, name)} has no contacts.",
            object_ids=[pk],
            details={"organization_id": pk},
        )


@register("ORG-005", severity="info", model="organizations.Organization")
def live_organization_names_are_distinct(context: CheckContext):
    """No two live organizations share a name (ignoring case)."""
    groups = (
        Organization.objects.annotate(key=Upper("name"))
        .values("key")
        .annotate(ids=ArrayAgg("pk", order_by="pk"), names=ArrayAgg("name", order_by="pk"), count=Count("pk"))
        .filter(count__gt=1)
        .order_by("key")
    )
    for group in groups:
        ids, name = group["ids"], group["names"][0]  # spelled as the oldest one spells it
        yield Issue(
            message=f'{len(ids)} organizations share the name "{name}" ({", ".join(f"#{pk}" for pk in ids)}).',
            object_ids=ids,
            details={"name": name, "organization_ids": ids},
        )


def _delete_orphan_contact(contact_id):
    # Re-checked here, so a contact whose organization came back is never deleted.
    parent = Organization.all_objects.filter(pk=OuterRef("organization_id"))
    OrganizationContact.all_objects.filter(~Exists(parent), pk=contact_id).hard_delete()


@register("CON-001", severity="critical", model="organizations.OrganizationContact")
def contacts_have_an_organization(context: CheckContext):
    """Every contact, deleted ones included, belongs to an organization row that exists."""
    contacts, organizations = OrganizationContact._meta.db_table, Organization._meta.db_table
    with connection.cursor() as cursor:
        # A LEFT JOIN: the ORM's related lookups would join the missing row away.
        cursor.execute(
            f"SELECT c.id, c.organization_id FROM {contacts} c "
            f"LEFT JOIN {organizations} o ON o.id = c.organization_id WHERE o.id IS NULL ORDER BY c.id"
        )
        rows = cursor.fetchall()
    for pk, organization_id in rows:
        yield Issue(
            message=f"Contact #{pk} belongs to organization #{organization_id}, which does not exist.",
            object_ids=[pk],
            details={"contact_id": pk, "organization_id": organization_id},
            repair="delete the contact row",
            fix=partial(_delete_orphan_contact, pk),
        )


def _demote_primary_contacts(contact_ids):
    OrganizationContact.all_objects.filter(pk__in=contact_ids, is_primary=True).update(
        is_primary=False, updated_at=timezone.now()
    )


@register("CON-002", severity="critical", model="organizations.OrganizationContact")
def organizations_have_at_most_one_primary_contact(context: CheckContext):
    """No organization has more than one live primary contact."""
    groups = (
        OrganizationContact.all_objects.filter(is_primary=True, deleted_at__isnull=True)
        .values("organization_id")
        .annotate(ids=ArrayAgg("pk", order_by=("-updated_at", "-pk")), count=Count("pk"))
        .filter(count__gt=1)
        .order_by("organization_id")
    )
    for group in groups:
        keep_id, demote_ids = group["ids"][0], sorted(group["ids"][1:])
        contact_ids = sorted(group["ids"])
        yield Issue(
            message=f"Organization #{group['organization_id']} has {len(contact_ids)} primary contacts "
            f"({', '.join(f'#{pk}' for pk in contact_ids)}).",
            object_ids=contact_ids,
            details={
                "organization_id": group["organization_id"],
                "contact_ids": contact_ids,
                "keep_id": keep_id,
                "demote_ids": demote_ids,
            },
            repair=f"keep contact #{keep_id} (most recently updated) as primary; demote the others",
            fix=partial(_demote_primary_contacts, demote_ids),
        )


@register("CON-003", severity="info", model="organizations.Organization")
def organizations_with_contacts_have_a_primary(context: CheckContext):
    """Every live organization with live contacts has a primary contact."""
    groups = (
        OrganizationContact.objects.filter(organization__deleted_at__isnull=True)
        .values("organization_id", "organization__name")
        .annotate(ids=ArrayAgg("pk", order_by="pk"), primaries=Count("pk", filter=Q(is_primary=True)))
        .filter(primaries=0)
        .order_by("organization_id")
    )
    for group in groups:
        pk = group["organization_id"]
        yield Issue(
            message=f"{_organization(pk, group['organization__name'])} has {len(group['ids'])} contacts "
            "but no primary contact.",
            object_ids=[pk],
            details={"organization_id": pk, "contact_ids": group["ids"]},
        )


def _soft_delete_contact_with_organization(contact_id):
    # The organization's deletion time, as if its cascade had caught the contact: restoring the
    # organization then restores the contact with it. The reason comes from the repair's history context.
    deleted_at = Organization.all_objects.filter(pk=OuterRef("organization_id")).values("deleted_at")
    OrganizationContact.all_objects.filter(
        pk=contact_id, deleted_at__isnull=True, organization__deleted_at__isnull=False
    ).update(deleted_at=Subquery(deleted_at), updated_at=timezone.now())


@register("CON-004", severity="warning", model="organizations.OrganizationContact")
def live_contacts_belong_to_live_organizations(context: CheckContext):
    """No live contact belongs to a soft-deleted organization."""
    rows = (
        OrganizationContact.objects.filter(organization__deleted_at__isnull=False)
        .values_list("pk", "first_name", "last_name", "organization_id", "organization__name")
        .order_by("pk")
    )
    for pk, first_name, last_name, organization_id, organization_name in rows:
        yield Issue(
            message=f"Contact #{pk} ({first_name} {last_name}) is live, but its organization "
            f'#{organization_id} "{organization_name}" is deleted.',
            object_ids=[pk],
            details={"contact_id": pk, "organization_id": organization_id},
            repair="soft-delete the contact",
            fix=partial(_soft_delete_contact_with_organization, pk),
        )
