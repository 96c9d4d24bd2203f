from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils.html import format_html

from attachments.models import TARGET_CATEGORIES, Attachment, AttachmentCategory
from attachments.resources import AttachmentResource
from ip2a.admin import HistoryAdmin, LargeTableMixin, SoftDeleteAdmin


class TargetTypeListFilter(admin.SimpleListFilter):
    title = "target type"
    parameter_name = "target_type"

    def lookups(self, request, model_admin):
        return [(label, label) for label in TARGET_CATEGORIES]

    def queryset(self, request, queryset):
        if self.value() not in TARGET_CATEGORIES:
            return queryset
        app_label, model = self.value().split(".")
        return queryset.filter(target_type=ContentType.objects.get_by_natural_key(app_label, model))


@admin.register(Attachment)
class AttachmentAdmin(LargeTableMixin, SoftDeleteAdmin):
    list_display = ("original_name", "target_type", "target_id", "category", "size", "uploaded_by", "created_at")
    list_filter = (TargetTypeListFilter, "category")
    list_select_related = ("target_type", "uploaded_by")
    search_fields = ("^original_name", "=sha256")
    # Files arrive through the portal's upload view (checks, hashing, storage names); here only the
    # description and the category change.
    exclude = ("file",)  # the storage is never served directly: the download link goes through the portal
    readonly_fields = (
        "target_type",
        "target_id",
        "download",
        "original_name",
        "content_type",
        "size",
        "sha256",
        "uploaded_by",
    )
    ordering = ("-pk",)
    resource_classes = [AttachmentResource]

    def has_add_permission(self, request):
        return False

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None and "category" in form.base_fields:
            allowed = TARGET_CATEGORIES.get(obj.target_label, [AttachmentCategory.GENERAL])
            form.base_fields["category"].choices = [(category.value, category.label) for category in allowed]
        return form

    @admin.display(description="file")
    def download(self, obj):
        return format_html('<a href="{}">Download</a>', reverse("attachments:attachment_download", args=[obj.pk]))


@admin.register(Attachment.pgh_event_model)
class AttachmentEventAdmin(HistoryAdmin):
    # Django's admin links a file field to storage.url(), which for a bucket is a working signed URL: a download
    # past the view's permission check and access log. The stored name is shown as text instead.
    exclude = ("file",)
    readonly_fields = ("stored_name",)

    @admin.display(description="file")
    def stored_name(self, event):
        return event.file.name
