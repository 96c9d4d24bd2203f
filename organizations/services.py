"""Organization and contact workflows that span rows (DOMAIN.md §4.1), used by the portal and the admin."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.history import history_reason
from ip2a.forms import save_refused_by_database
from organizations.models import Organization, OrganizationContact

CURRENT_EMPLOYEES_REFUSAL = "Members currently work here; end their jobs before deleting the organization."


def _require_reason(reason: str, action: str) -> str:
    if not reason or not reason.strip():
        raise ValidationError(f"A reason is required to {action}.")
    return reason.strip()


@transaction.atomic
def organization_soft_delete(*, organization: Organization, reason: str) -> Organization:
    """Soft-delete an organization with its live contacts (one timestamp); refused while anyone works there."""
    reason = _require_reason(reason, "delete an organization")
    # FOR UPDATE conflicts with the key-share lock a new employment takes on this row, so no job can start
    # here between the check and the delete.
    organization = Organization.all_objects.select_for_update().get(pk=organization.pk)
    if organization.deleted_at is not None:
        raise ValidationError(f"“{organization}” is already deleted.")
    if organization.employments.filter(is_current=True).exists():
        raise ValidationError(CURRENT_EMPLOYEES_REFUSAL)
    organization.soft_delete(reason=reason)
    return organization


@transaction.atomic
def organization_restore(*, organization: Organization, reason: str) -> Organization:
    """Restore an organization with exactly the contacts deleted together with it; they come back
    non-primary when the organization has a live primary contact meanwhile."""
    reason = _require_reason(reason, "restore an organization")
    organization = Organization.all_objects.select_for_update().get(pk=organization.pk)
    if organization.deleted_at is None:
        raise ValidationError(f"“{organization}” is not deleted.")
    if OrganizationContact.objects.filter(organization=organization, is_primary=True).exists():
        with history_reason(reason):
            OrganizationContact.all_objects.filter(
                organization=organization, deleted_at=organization.deleted_at, is_primary=True
            ).update(is_primary=False, updated_at=timezone.now())
    organization.restore(reason=reason)
    return organization


@transaction.atomic
def contact_create(
    *,
    organization: Organization,
    first_name: str,
    last_name: str,
    title: str = "",
    phone: str = "",
    email: str = "",
    notes: str = "",
    is_primary: bool = False,
) -> OrganizationContact:
    """Add a contact to a live organization; its first contact becomes primary, and a new primary contact
    demotes the previous one. A refusal is a ValidationError with the messages of the whole contact (the field
    rules', or the one constraint the database refused first); the portal's form checks names before calling."""
    # Locking the organization serialises contact creation, so two "first" contacts never race.
    organization = Organization.objects.select_for_update().filter(pk=organization.pk).first()
    if organization is None:
        raise ValidationError("This organization is deleted; restore it before adding contacts.")
    contact = OrganizationContact(
        organization=organization,
        first_name=first_name,
        last_name=last_name,
        title=title,
        phone=phone,
        email=email,
        notes=notes,
        is_primary=is_primary,
    )
    contact_settle_primary(contact=contact, organization_locked=True)
    # The field rules and clean() (trimming) here; the constraints (names not blank, one primary contact) on the
    # INSERT: asking them first cost a query in a savepoint of every add.
    save_refused_by_database(contact)
    return contact


def contact_settle_primary(*, contact: OrganizationContact, organization_locked: bool = False) -> None:
    """Apply the primary-contact rules to a contact about to be saved, inside the caller's transaction: a new
    contact of an organization without live contacts becomes primary, and a contact saved as primary demotes
    the organization's previous primary. The portal's form and the imports (portal and admin) both call it;
    ``organization_locked`` says the caller's transaction holds the organization's row lock already."""
    if not organization_locked:
        Organization.all_objects.select_for_update().filter(pk=contact.organization_id).first()  # one at a time
    others = OrganizationContact.objects.filter(organization_id=contact.organization_id).exclude(pk=contact.pk)
    if contact.pk is None and contact.deleted_at is None and not others.exists():
        contact.is_primary = True
    elif contact.is_primary and contact.deleted_at is None:
        others.filter(is_primary=True).update(is_primary=False, updated_at=timezone.now())


@transaction.atomic
def contact_make_primary(*, contact: OrganizationContact, reason: str = "") -> OrganizationContact:
    """Make a live contact its organization's primary one, demoting the previous primary in the same
    transaction."""
    # Locking the organization first serialises two "make primary" on its contacts: the second one then sees
    # (and demotes) the primary the first one made.
    Organization.all_objects.select_for_update().get(pk=contact.organization_id)
    contact = OrganizationContact.objects.select_for_update().filter(pk=contact.pk).first()
    if contact is None:
        raise ValidationError("This contact is deleted; restore it before making it primary.")
    if contact.is_primary:
        return contact
    with history_reason(reason or f"made {contact} the primary contact"):
        OrganizationContact.objects.filter(organization_id=contact.organization_id, is_primary=True).update(
            is_primary=False, updated_at=timezone.now()
        )
        contact.is_primary = True
        contact.save(update_fields=["is_primary"])
    return contact


@transaction.atomic
def contact_restore(*, contact: OrganizationContact, reason: str) -> OrganizationContact:
    """Restore a soft-deleted contact of a live organization (non-primary when the organization has a primary
    contact meanwhile)."""
    reason = _require_reason(reason, "restore a contact")
    contact = (
        OrganizationContact.all_objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=contact.pk)
    )
    if contact.organization.deleted_at is not None:
        raise ValidationError(f"“{contact.organization}” is deleted; restore the organization first.")
    contact.restore(reason=reason)
    return contact
