"""Export columns of the history log and the access log (both append-only: never imported)."""

from django.utils import timezone
from import_export import fields, resources

from audit.models import AccessLog
from ip2a.resources import ExportOnlyResource, escape_formula


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


class HistoryEntryResource(resources.Resource):
    """The history log's columns, over audit.timeline.Entry objects (not a model: the log spans tables)."""

    time = fields.Field(column_name="time")
    user = fields.Field(attribute="who", column_name="user")
    source = fields.Field(attribute="source", column_name="source")
    action = fields.Field(attribute="action", column_name="action")
    record_type = fields.Field(attribute="record_type", column_name="record_type")
    record_id = fields.Field(attribute="record_id", column_name="record_id")
    record = fields.Field(attribute="record", column_name="record")
    changes = fields.Field(column_name="changes")
    reason = fields.Field(attribute="reason", column_name="reason")
    request_id = fields.Field(attribute="request_id", column_name="request_id")

    def dehydrate_time(self, entry):
        return timezone.localtime(entry.time).isoformat()

    def dehydrate_changes(self, entry):
        return "; ".join(f"{label}: {old} → {new}" if old else f"{label}: {new}" for label, old, new in entry.changes)

    def export_field(self, field, instance, **kwargs):
        """Escape text a spreadsheet would run as a formula (a member named "=cmd" stays text)."""
        value = super().export_field(field, instance, **kwargs)
        return value if field.column_name == "record_id" else escape_formula(value)
