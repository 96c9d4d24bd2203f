from django.contrib import admin

from audit.models import AccessLog, CommandRun, LoginFailure, UserEvent, UserGroupEvent
from audit.resources import AccessLogResource
from ip2a.admin import AccessLoggedExportMixin, HistoryAdmin, LargeTableMixin, ReadOnlyAdmin


@admin.register(AccessLog)
class AccessLogAdmin(LargeTableMixin, AccessLoggedExportMixin, ReadOnlyAdmin):
    list_display = ("created_at", "username", "action", "target_type", "target_id", "object_repr", "row_count", "ip")
    list_filter = ("action", "user", "created_at")
    list_select_related = ("target_type",)
    search_fields = ("=username", "object_repr")
    resource_classes = [AccessLogResource]


@admin.register(CommandRun)
class CommandRunAdmin(ReadOnlyAdmin):
    list_display = ("command", "started_at", "finished_at", "outcome", "exit_code", "source", "os_user", "hostname")
    list_filter = ("outcome", "source", "command", "started_at")
    search_fields = ("command", "os_user")


@admin.register(LoginFailure)
class LoginFailureAdmin(ReadOnlyAdmin):
    """Failed sign-ins behind the login throttle (ip2a/throttle.py). Deleting a username's rows lifts its
    lockout at once (the log keeps the record)."""

    actions = ["delete_selected"]
    list_display = ("created_at", "username", "ip")
    list_filter = ("created_at",)
    search_fields = ("=username", "=ip")

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("audit.delete_loginfailure")


admin.site.register(UserEvent, HistoryAdmin)


@admin.register(UserGroupEvent)
class UserGroupEventAdmin(HistoryAdmin):
    list_display = (
        "pgh_created_at",
        "pgh_label",
        "user",
        "group",
        "context_username",
        "context_source",
        "context_reason",
    )
    list_prefetch_related = ("user", "group")
