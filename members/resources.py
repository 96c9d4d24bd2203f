"""Import/export columns of members and employments (the admin, the portal's exports and imports share them)."""

from django.core.exceptions import ValidationError
from import_export import fields, widgets

from ip2a.resources import LookupWidget, SafeModelResource, UpperCaseWidget
from members.models import Member, MemberEmployment
from organizations.models import Organization

ADDRESS = ["address_line1", "address_line2", "city", "state", "postal_code"]


class MemberResource(SafeModelResource):
    member_number = fields.Field(attribute="member_number", column_name="member_number", widget=UpperCaseWidget())

    class Meta:
        model = Member
        fields = [
            "member_number",
            "first_name",
            "middle_name",
            "last_name",
            "email",
            "phone",
            *ADDRESS,
            "date_of_birth",
            "join_date",
            "status",
            "classification",
            "notes",
        ]
        import_id_fields = ["member_number"]


class MemberEmploymentResource(SafeModelResource):
    """A row is one job: ``member`` is the member number; ``organization`` is the organization's id, because
    organization names are not unique (``organization_name`` is exported for people and ignored on import).
    ``is_current`` is exported but never imported: save() derives it from ``end_date``."""

    member = fields.Field(attribute="member", column_name="member", widget=LookupWidget(Member, field="member_number"))
    organization = fields.Field(
        attribute="organization", column_name="organization", widget=LookupWidget(Organization, field="pk")
    )
    organization_name = fields.Field(attribute="organization__name", column_name="organization_name", readonly=True)
    is_current = fields.Field(
        attribute="is_current", column_name="is_current", readonly=True, widget=widgets.BooleanWidget()
    )

    class Meta:
        model = MemberEmployment
        fields = [
            "id",
            "member",
            "organization",
            "organization_name",
            "start_date",
            "end_date",
            "is_current",
            "job_title",
            "hourly_rate",
            "notes",
        ]

    def get_queryset(self):
        return super().get_queryset().select_related("member", "organization")

    def import_instance(self, instance, row, **kwargs):
        """Refuse a row that gives an existing job another member, as the database would (its rule:
        MemberEmployment.Meta.triggers), with a message for the row."""
        member_before = instance.member_id if instance.pk is not None else None
        super().import_instance(instance, row, **kwargs)
        if member_before is not None and instance.member_id != member_before:
            raise ValidationError(
                {"member": "A job stays with its member: delete it and add it to the right member instead."}
            )
