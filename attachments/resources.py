"""Export columns of attachment metadata (files are uploaded through the portal, never imported)."""

from import_export import fields

from attachments.models import Attachment
from ip2a.resources import ExportOnlyResource


class AttachmentResource(ExportOnlyResource):
    target_type = fields.Field(attribute="target_label", column_name="target_type")
    uploaded_by = fields.Field(attribute="uploaded_by__username", column_name="uploaded_by")

    class Meta:
        model = Attachment
        fields = [
            "id",
            "target_type",
            "target_id",
            "original_name",
            "category",
            "content_type",
            "size",
            "sha256",
            "description",
            "uploaded_by",
            "created_at",
            "deleted_at",
        ]
