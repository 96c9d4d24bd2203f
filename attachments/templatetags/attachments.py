from django import template
from django.urls import reverse

from attachments.models import TARGET_CATEGORIES, Attachment
from attachments.services import (
    attachment_can_delete,
    attachment_can_download,
    attachment_can_upload,
    attachment_can_view,
)

register = template.Library()


@register.inclusion_tag("attachments/attachment_panel_body.html", takes_context=True)
def attachment_panel(context, target):
    """The attachments of one record, with the links the user may follow; nothing for a user who may not list
    them. One query for the rows, whatever their number."""
    request = context.get("request")
    user = request.user if request is not None else context.get("user")
    meta = getattr(target, "_meta", None)  # "" when the page passed no target
    if user is None or meta is None or meta.label_lower not in TARGET_CATEGORIES or target.pk is None:
        return {"visible": False}
    if not attachment_can_view(user, target):
        return {"visible": False}
    can_delete = attachment_can_delete(user, target)  # delete and restore go together (DOMAIN.md §5)
    rows = Attachment.all_objects.for_target(target).select_related("uploaded_by")
    if not can_delete:
        rows = rows.filter(deleted_at__isnull=True)
    live, deleted = [], []
    for attachment in rows:
        attachment.target = target  # already loaded: no query per row when a rule reads it
        (deleted if attachment.is_deleted else live).append(attachment)
    # The download rule depends only on the target and on whether the attachment is deleted, so one check
    # per kind covers every row.
    can_download = attachment_can_download(user, target)
    can_download_deleted = bool(deleted) and attachment_can_download(user, deleted[0])
    return {
        "visible": True,
        "target": target,
        "panel_id": f"attachments-{meta.app_label}-{meta.model_name}-{target.pk}",
        "live": live,
        "deleted": deleted,
        "can_download": can_download,
        "can_download_deleted": can_download_deleted,
        "can_delete": can_delete,
        "upload_url": (
            reverse("attachments:attachment_upload", args=[meta.app_label, meta.model_name, target.pk])
            if attachment_can_upload(user, target)
            else ""
        ),
    }
