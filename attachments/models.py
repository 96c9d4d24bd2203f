import uuid
from pathlib import PurePath

import pghistory
from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import storages
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.utils import timezone

from ip2a.models import (
    LiveManager,
    SoftDeleteModel,
    SoftDeleteQuerySet,
    choice_constraint,
    constraint_name,
    event_meta,
    not_blank,
)

MAX_SIZE = 52_428_800  # 50 MB


class AttachmentCategory(models.TextChoices):
    GENERAL = "general", "General"
    IDENTIFICATION = "identification", "Identification"
    EMPLOYMENT = "employment", "Employment"
    CERTIFICATIONS = "certifications", "Certifications"
    DUES = "dues", "Dues"
    GRIEVANCES = "grievances", "Grievances"
    BENEVOLENCE = "benevolence", "Benevolence"
    SALTING = "salting", "Salting"
    DISCIPLINE = "discipline", "Discipline"
    CORRESPONDENCE = "correspondence", "Correspondence"
    REFERRAL = "referral", "Referral"
    PAY_RECORDS = "pay_records", "Pay records"
    SEPARATION = "separation", "Separation"
    CONTRACTS = "contracts", "Contracts"
    APPLICATIONS = "applications", "Applications"
    PROGRESS = "progress", "Progress"
    ATTENDANCE = "attendance", "Attendance"
    COMPLETION = "completion", "Completion"
    CERTIFICATE = "certificate", "Certificate"
    WALLET_CARD = "wallet_card", "Wallet card"
    STATEMENTS = "statements", "Statements"
    EVIDENCE = "evidence", "Evidence"
    SETTLEMENT = "settlement", "Settlement"
    SUPPORTING_DOCS = "supporting_docs", "Supporting documents"


C = AttachmentCategory
# The models that can carry attachments ("app_label.model") and the categories each allows (DOMAIN.md §7).
TARGET_CATEGORIES = {
    "members.member": [
        C.IDENTIFICATION, C.EMPLOYMENT, C.CERTIFICATIONS, C.DUES, C.GRIEVANCES, C.BENEVOLENCE, C.SALTING,
        C.DISCIPLINE, C.CORRESPONDENCE, C.GENERAL,
    ],
    "members.memberemployment": [C.REFERRAL, C.PAY_RECORDS, C.SEPARATION, C.CORRESPONDENCE, C.GENERAL],
    "organizations.organization": [C.CONTRACTS, C.CORRESPONDENCE, C.SALTING, C.GRIEVANCES, C.GENERAL],
    "training.student": [
        C.IDENTIFICATION, C.APPLICATIONS, C.CERTIFICATIONS, C.PROGRESS, C.ATTENDANCE, C.CORRESPONDENCE, C.GENERAL,
    ],
    "training.enrollment": [C.APPLICATIONS, C.PROGRESS, C.COMPLETION, C.CORRESPONDENCE, C.GENERAL],
    "training.credential": [C.CERTIFICATE, C.WALLET_CARD, C.GENERAL],
}  # fmt: skip

# Allowed extensions and the content type each is stored and served with (the browser's claim is ignored).
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "txt": "text/plain",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "tif": "image/tiff",
    "tiff": "image/tiff",
}


def attachments_storage():
    """The private storage behind STORAGES["attachments"] (filesystem by default, never served directly)."""
    return storages["attachments"]


def storage_name(instance, filename: str) -> str:
    """``<target model>/<yyyy>/<mm>/<32 hex>.<ext>``: nothing of the uploaded name reaches the disk."""
    ext = PurePath(filename).suffix.lower().lstrip(".")
    now = timezone.now()
    return f"{instance.target_type.model}/{now:%Y}/{now:%m}/{uuid.uuid4().hex}.{ext}"


class AttachmentQuerySet(SoftDeleteQuerySet):
    def for_target(self, obj):
        """The attachments of one record."""
        return self.filter(target_type=ContentType.objects.get_for_model(obj), target_id=obj.pk)

    def counts_for(self, objects) -> dict[int, int]:
        """{record id: number of attachments} for records of one model, in one query (records without: absent)."""
        objects = list(objects)
        if not objects:
            return {}
        rows = (
            self.filter(
                target_type=ContentType.objects.get_for_model(objects[0]), target_id__in=[o.pk for o in objects]
            )
            .values_list("target_id")
            .annotate(n=models.Count("pk"))
            .order_by()
        )
        return dict(rows)


# The files' events of one record (a member page's recent activity and the key of its kept body), and the
# newest events of the files of one kind of record (ip2a.caching.record_versions streams).
@pghistory.track(
    meta=event_meta(
        "att_attachment",
        models.Index(fields=["target_type", "target_id"], name="att_attachment_evt_target"),
        models.Index(fields=["target_type", "pgh_id"], name="att_attachment_evt_kind"),
    )
)
class Attachment(SoftDeleteModel):
    """A document stored privately and attached to a member, employment, organization, student, enrollment
    or credential."""

    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    target_id = models.BigIntegerField()
    target = GenericForeignKey("target_type", "target_id")
    file = models.FileField(storage=attachments_storage, upload_to=storage_name, max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    sha256 = models.CharField("SHA-256", max_length=64)
    category = models.CharField(max_length=20, choices=AttachmentCategory, default=AttachmentCategory.GENERAL)
    description = models.CharField(max_length=500, blank=True, default="", db_default="")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = LiveManager.from_queryset(AttachmentQuerySet)()
    all_objects = models.Manager.from_queryset(AttachmentQuerySet)()

    class Meta(SoftDeleteModel.Meta):
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["target_type", "target_id"], condition=Q(deleted_at__isnull=True), name="attachment_target_idx"
            )
        ]
        constraints = [
            not_blank("original_name"),
            not_blank("content_type"),
            choice_constraint("category", AttachmentCategory),
            models.CheckConstraint(
                condition=Q(size__gte=1, size__lte=MAX_SIZE),
                name=constraint_name("size_range"),
                violation_error_message="A file must hold between 1 byte and 50 MB.",
            ),
            models.CheckConstraint(
                # Length plus "no character outside 0-9a-f": the same rule as ^[0-9a-f]{64}$, far cheaper per row.
                condition=Q(Exact(Length("sha256"), 64)) & ~Q(sha256__regex=r"[^0-9a-f]"),
                name=constraint_name("sha256_format"),
                violation_error_message="The SHA-256 must be 64 lower-case hexadecimal characters.",
            ),
        ]
        permissions = [("download_attachment", "Can download attachments")]

    def __str__(self):
        return self.original_name

    @property
    def target_label(self) -> str:
        return f"{self.target_type.app_label}.{self.target_type.model}"


def file_count_column(model) -> tuple[str, str, tuple]:
    """``("file_count", SQL, params)``: the number of live attachments of each row of ``model`` as a column of a
    statement that reads that model's table aliased ``t0`` (ip2a.rows.read_owned's ``extra``) — what
    counts_for() counts, without a second query."""
    table, pk = Attachment._meta.db_table, model._meta.pk.column
    sql = (
        f'(SELECT count(*) FROM "{table}" a WHERE a."target_type_id" = %s AND a."target_id" = t0."{pk}"'
        ' AND a."deleted_at" IS NULL)'
    )
    return "file_count", sql, (ContentType.objects.get_for_model(model).pk,)
