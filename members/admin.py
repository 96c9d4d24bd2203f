from django.contrib import admin

from ip2a.admin import HistoryAdmin, LargeTableMixin, OwnedRowAdmin, SoftDeleteAdmin
from members.models import Member, MemberEmployment
from members.resources import MemberEmploymentResource, MemberResource


@admin.register(Member)
class MemberAdmin(LargeTableMixin, SoftDeleteAdmin):
    list_display = ("member_number", "last_name", "first_name", "classification", "status", "email", "phone")
    list_filter = ("status", "classification")
    search_fields = ("^member_number", "^last_name", "^first_name", "=email")
    autocomplete_fields = ("student",)
    resource_classes = [MemberResource]
    export_permission = "members.export_member"


@admin.register(MemberEmployment)
class MemberEmploymentAdmin(LargeTableMixin, OwnedRowAdmin):
    list_display = ("member", "organization", "job_title", "start_date", "end_date", "is_current", "hourly_rate")
    list_filter = ("is_current",)
    list_select_related = ("member", "organization")
    search_fields = ("^member__member_number", "^member__last_name", "^organization__name")
    autocomplete_fields = ("member", "organization")
    readonly_fields = ("is_current",)
    ordering = ("-pk",)  # the primary key index: newest first without sorting 250,000 rows
    str_select_related = ("organization",)
    resource_classes = [MemberEmploymentResource]

    def get_readonly_fields(self, request, obj=None):
        """A job's member is chosen once (the database refuses a change: MemberEmployment.Meta.triggers)."""
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "member") if obj is not None else fields

    export_permission = "members.export_member"


admin.site.register(Member.pgh_event_model, HistoryAdmin)


@admin.register(MemberEmployment.pgh_event_model)
class MemberEmploymentEventAdmin(HistoryAdmin):
    list_prefetch_related = ("pgh_obj__organization",)
