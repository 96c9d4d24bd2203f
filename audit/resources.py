"""Export columns of the access log (append-only: never imported)."""

from import_export import fields

from audit.models import AccessLog
from ip2a.resources import ExportOnlyResource


class AccessLogResource(ExportOnlyResource):
    target_type = fields.Field(attribute="target_type__model", column_name="target_type")

    class Meta:
        model = AccessLog
        fields = [
            "id",
            "created_at",
            "username",
            "action",
            "target_type",
            "target_id",
            "object_repr",
            "path",
            "query",
            "row_count",
            "ip",
            "request_id",
        ]
