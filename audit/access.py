"""The access log: who viewed, exported or downloaded personal data (DOMAIN.md §6)."""

import functools

from django.contrib.contenttypes.models import ContentType
from django.db import connections, router

from audit.models import AccessAction, AccessLog

# Every column but the id and created_at (the database's now()); written with one plain statement, not through
# the ORM: a member page logs every view, and AccessLog.objects.create() compiled the INSERT and built a model
# instance each time for a row nobody reads back (~0.5 ms of CPU per view, timed in-process).
INSERTED = (
    "user", "username", "action", "target_type", "target_id", "object_repr", "path", "query", "row_count", "ip",
    "request_id",
)  # fmt: skip


@functools.cache
def _insert_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    columns = ", ".join(quote(AccessLog._meta.get_field(name).column) for name in INSERTED)
    placeholders = ", ".join(["%s"] * len(INSERTED))
    return f"INSERT INTO {quote(AccessLog._meta.db_table)} ({columns}) VALUES ({placeholders})"


# Models whose detail views are logged ("app_label.model"). Exports and downloads are logged always.
PERSONAL_DATA = {"members.member", "training.student"}


def log_access(request, *, action: str, obj=None, queryset=None, rows: int | None = None, label: str = "") -> None:
    """Append one AccessLog row for a view of ``obj`` (only for PERSONAL_DATA models), or an export of
    ``queryset`` with its row count, or a download of ``obj``."""
    if action not in AccessAction.values:
        raise ValueError(f"Unknown access action {action!r}.")
    model = type(obj) if obj is not None else (queryset.model if queryset is not None else None)
    if action == AccessAction.VIEW and (model is None or model._meta.label_lower not in PERSONAL_DATA):
        return
    user = request.user if request.user.is_authenticated else None
    if obj is not None:
        target_type, target_id = ContentType.objects.get_for_model(obj), obj.pk
        object_repr = label or f"{model._meta.verbose_name.capitalize()} {obj}"
    else:
        target_type, target_id = None, None
        object_repr = label or (f"{model._meta.verbose_name_plural.capitalize()} list" if model else "")
    values = {
        "user": user.pk if user else None,
        "username": user.get_username() if user else "",
        "action": action,
        "target_type": target_type.pk if target_type else None,
        "target_id": target_id,
        "object_repr": object_repr[:255],
        "path": request.path[:2000],
        "query": request.GET.urlencode()[:2000] if action == AccessAction.EXPORT else "",
        "row_count": rows if action == AccessAction.EXPORT else None,
        "ip": getattr(request, "client_ip", request.META.get("REMOTE_ADDR", ""))[:45],
        "request_id": getattr(request, "request_id", ""),
    }
    alias = router.db_for_write(AccessLog)
    with connections[alias].cursor() as cursor:
        cursor.execute(_insert_sql(alias), [values[name] for name in INSERTED])
