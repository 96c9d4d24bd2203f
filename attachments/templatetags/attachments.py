from django import template
from django.contrib.contenttypes.models import ContentType
from django.db import router
from django.urls import reverse

from attachments.models import TARGET_CATEGORIES, Attachment
from attachments.services import (
    attachment_can_delete,
    attachment_can_download,
    attachment_can_upload,
    attachment_can_view,
)
from ip2a.rows import read_matching

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
    # Attachment.all_objects.for_target(target).select_related("uploaded_by"), live ones only unless the user may
    # restore: one statement written once per process (ip2a.rows), as every record page reads it.
    rows = read_matching(
        Attachment,
        {"target_type_id": ContentType.objects.get_for_model(target).pk, "target_id": target.pk},
        joined=("uploaded_by",),
        live_only=not can_delete,
        using=router.db_for_read(Attachment),
    )
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
