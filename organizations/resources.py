"""Import/export columns of organizations and their contacts."""

from django.core.exceptions import ValidationError
from import_export import fields

from ip2a.resources import LookupWidget, SafeModelResource
from organizations.models import Organization, OrganizationContact
from organizations.services import contact_settle_primary

ADDRESS = ["address_line1", "address_line2", "city", "state", "postal_code"]
SALTING_FIELDS = ("salting_score", "salting_notes")


class OrganizationResource(SafeModelResource):
    """Rows are matched by id (names are not unique). Salting columns are imported only for users holding
    organizations.change_salting; for anyone else they are read-only."""

    class Meta:
        model = Organization
        fields = [
            "id",
            "name",
            "org_type",
            *ADDRESS,
            "phone",
            "email",
            "website",
            "salting_score",
            "salting_notes",
            "notes",
        ]

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        user = kwargs.get("user")
        self.salting_allowed = user is None or user.has_perm("organizations.change_salting")

    def import_field(self, field, instance, row, is_m2m=False, **kwargs):
        if field.attribute in SALTING_FIELDS and not getattr(self, "salting_allowed", True):
            return
        super().import_field(field, instance, row, is_m2m, **kwargs)


class OrganizationContactResource(SafeModelResource):
    """``organization`` is the organization's id (names are not unique); ``organization_name`` is exported
    for people and ignored on import."""

    organization = fields.Field(
        attribute="organization", column_name="organization", widget=LookupWidget(Organization, field="pk")
    )
    organization_name = fields.Field(attribute="organization__name", column_name="organization_name", readonly=True)

    class Meta:
        model = OrganizationContact
        fields = [
            "id",
            "organization",
            "organization_name",
            "first_name",
            "last_name",
            "title",
            "phone",
            "email",
            "is_primary",
            "notes",
        ]

    def get_queryset(self):
        return super().get_queryset().select_related("organization")

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        self.primary_given = {}  # organization id → the file's row number that made a contact primary

    def before_save_instance(self, instance, row, **kwargs):
        """The primary-contact rules of the portal: a first contact becomes primary, a new primary demotes
        the previous one; but one file may name only one primary contact per organization."""
        super().before_save_instance(instance, row, **kwargs)
        if instance.is_primary and instance.deleted_at is None:
            number = kwargs.get("row_number")
            first = self.primary_given.setdefault(instance.organization_id, number)
            if first != number:
                raise ValidationError(
                    {"is_primary": "Another row of this file already makes a contact of this organization primary."}
                )
        contact_settle_primary(contact=instance)
