import pghistory
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils import timezone

from ip2a.admin import HistoryAdmin, SoftDeleteAdmin
from organizations.models import Organization, OrganizationContact
from organizations.resources import SALTING_FIELDS, OrganizationContactResource, OrganizationResource


@admin.register(Organization)
class OrganizationAdmin(SoftDeleteAdmin):
    list_display = ("name", "org_type", "city", "state", "phone", "salting_score")
    list_filter = ("org_type", "salting_score")
    search_fields = ("name",)
    ordering = ("name", "pk")
    resource_classes = [OrganizationResource]
    export_permission = "organizations.export_organization"

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if not request.user.has_perm("organizations.change_salting"):
            readonly = [*readonly, *SALTING_FIELDS]
        return readonly

    def soft_delete_object(self, request, obj, reason):
        # DOMAIN.md §4.1; belongs in organizations/services.py once that holds the soft-delete workflow.
        if obj.employments.filter(is_current=True).exists():
            raise ValidationError("Members currently work here; end their jobs before deleting the organization.")
        super().soft_delete_object(request, obj, reason)


@admin.register(OrganizationContact)
class OrganizationContactAdmin(SoftDeleteAdmin):
    list_display = ("last_name", "first_name", "organization", "title", "email", "phone", "is_primary")
    list_filter = ("is_primary",)
    list_select_related = ("organization",)
    search_fields = ("^last_name", "^first_name", "email", "organization__name")
    autocomplete_fields = ("organization",)
    resource_classes = [OrganizationContactResource]
    export_permission = "organizations.export_organization"

    def restore_object(self, request, obj, reason):
        # DOMAIN.md §4.1: a contact restored into an organization that has a primary comes back non-primary.
        # Belongs in organizations/services.py once that holds the contact workflows.
        other_primary = OrganizationContact.objects.filter(organization_id=obj.organization_id, is_primary=True)
        if obj.is_primary and other_primary.exists():
            obj.is_primary = False
            with pghistory.context(reason=reason):
                OrganizationContact.all_objects.filter(pk=obj.pk).update(is_primary=False, updated_at=timezone.now())
        super().restore_object(request, obj, reason)


admin.site.register(Organization.pgh_event_model, HistoryAdmin)
admin.site.register(OrganizationContact.pgh_event_model, HistoryAdmin)
