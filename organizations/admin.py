from django.contrib import admin

from ip2a.admin import HistoryAdmin, SoftDeleteAdmin
from organizations.models import Organization, OrganizationContact
from organizations.resources import SALTING_FIELDS, OrganizationContactResource, OrganizationResource
from organizations.services import contact_restore, organization_restore, organization_soft_delete


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
        organization_soft_delete(organization=obj, reason=reason)

    def restore_object(self, request, obj, reason):
        organization_restore(organization=obj, reason=reason)


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
        contact_restore(contact=obj, reason=reason)


admin.site.register(Organization.pgh_event_model, HistoryAdmin)
admin.site.register(OrganizationContact.pgh_event_model, HistoryAdmin)
