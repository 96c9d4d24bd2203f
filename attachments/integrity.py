"""Integrity checks of the attachments and their storage (DOMAIN.md §7 and §8: FIL-001 … FIL-008).

The storage checks stat or read files through the local path of ``storages["attachments"]`` when it has one
(one os.stat per file is fast enough for 150,000 files); in a bucket they list its objects once (1,000 per
request) instead of asking about each file, and read a file as one streamed GET; any other storage goes through
the storage API.
"""

import hashlib
import os
import re
import stat
import time
from contextlib import closing
from functools import partial
from pathlib import Path, PurePosixPath

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import storages
from django.db import connection
from django.db.models import CharField, Exists, F, Func, OuterRef, Q, Value
from django.db.models.functions import Length, Lower
from django.utils import timezone

from attachments.models import CONTENT_TYPES, MAX_SIZE, TARGET_CATEGORIES, Attachment
from attachments.storage import bucket_copy, bucket_objects, is_bucket, local_root, open_stream
from ip2a.integrity import CheckContext, Issue, register

SHA256_FORMAT = r"^[0-9a-f]{64}$"  # the pattern of attachments_attachment_sha256_format
QUARANTINE = "quarantine"  # FIL-007 moves unreferenced files under this prefix; it is never scanned
CHUNK_SIZE = 1024 * 1024
# FIL-007 leaves younger files alone: an upload writes its file before its row commits.
UNREFERENCED_MIN_AGE = 3600  # seconds

# The target rows that are visible; attachments of a hidden target are hidden too, so warning and info
# checks skip them (DOMAIN.md §2 and §7). Owned targets are hidden with their owner.
VISIBLE_TARGETS = {
    "members.member": Q(deleted_at__isnull=True),
    "members.memberemployment": Q(member__deleted_at__isnull=True),
    "organizations.organization": Q(deleted_at__isnull=True),
    "training.student": Q(deleted_at__isnull=True),
    "training.enrollment": Q(student__deleted_at__isnull=True, cohort__deleted_at__isnull=True),
    "training.credential": Q(student__deleted_at__isnull=True),
}


def _storage():
    return storages["attachments"]


def _local_path(storage, root: Path, name: str) -> str:
    # storage.path() guards against names escaping the root but costs as much as the stat itself; names
    # without "..", a leading slash or a NUL byte cannot escape, so they take the short way.
    if ".." in name or name.startswith("/") or "\x00" in name:
        return storage.path(name)
    return f"{root}/{name}"


def _stored_size(storage, root: Path | None, name: str) -> int | None:
    """The size of the stored file ``name``, or None when no such file exists."""
    if root is None:
        return storage.size(name) if storage.exists(name) else None
    try:
        status = os.stat(_local_path(storage, root, name))
    except (FileNotFoundError, NotADirectoryError, SuspiciousFileOperation):
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def _size_lookup(storage):
    """A function giving the size of a stored file, or None when there is no such file."""
    if is_bucket(storage):
        return {stored.name: stored.size for stored in bucket_objects(storage)}.get
    return partial(_stored_size, storage, local_root(storage))


def _target_label(content_type_id: int) -> str:
    try:
        content_type = ContentType.objects.get_for_id(content_type_id)
    except ContentType.DoesNotExist:
        return f"content type #{content_type_id}"
    return f"{content_type.app_label}.{content_type.model}"


def _target_types() -> dict[str, int]:
    """The content type id of every model that may carry attachments, by "app_label.model"."""
    return {label: ContentType.objects.get_for_model(apps.get_model(label)).pk for label in TARGET_CATEGORIES}


def _visible_attachments(*, few: bool = False):
    """Live attachments whose target is not soft-deleted (nor owned by a soft-deleted row).

    With ``few`` (the other conditions keep only a handful of rows) each target is probed per row that
    reaches the test; otherwise the hidden ids of each target table are hashed once for all rows.
    """
    hidden = Q()
    for label, visible in VISIBLE_TARGETS.items():
        model = apps.get_model(label)
        content_type = ContentType.objects.get_for_model(model)
        if few:
            target = model._base_manager.filter(pk=OuterRef("target_id")).exclude(visible)
            hidden |= Q(target_type=content_type) & Q(Exists(target))
        else:
            hidden |= Q(target_type=content_type, target_id__in=model._base_manager.exclude(visible).values("pk"))
    return Attachment.objects.exclude(hidden)


def _soft_delete_attachments(attachment_ids: list[int]) -> None:
    now = timezone.now()
    Attachment.objects.filter(pk__in=attachment_ids).update(deleted_at=now, updated_at=now)


def _quarantine(name: str) -> None:
    """Move the stored file ``name`` under quarantine/ (never overwriting); a no-op once it has moved."""
    storage = _storage()
    if not storage.exists(name) or Attachment.all_objects.filter(file=name).exists():
        return  # moved already, or a row has claimed it since the check ran
    if is_bucket(storage):
        bucket_copy(storage, name, storage.get_available_name(f"{QUARANTINE}/{name}"))
        storage.delete(name)
        return
    root = local_root(storage)
    if root is None:
        with storage.open(name, "rb") as content:
            storage.save(f"{QUARANTINE}/{name}", content)
        storage.delete(name)
        return
    source = storage.path(name)
    for _attempt in range(5):
        target = storage.path(storage.get_available_name(f"{QUARANTINE}/{name}"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            os.link(source, target)  # unlike rename, a link never replaces a file that appeared meanwhile
        except FileExistsError:
            continue
        os.unlink(source)
        return
    raise FileExistsError(f"No free quarantine name for {name}.")


@register("FIL-001", severity="critical", model="attachments.Attachment")
def attachments_have_file_name(context: CheckContext):
    """Every attachment row that is not deleted names a stored file."""
    # Deleted rows are left out although the check is critical: soft delete is its repair, so a deleted row
    # without a file is the repaired state, not a finding.
    rows = Attachment.objects.exclude(file__regex=r"\S").values_list("id", "original_name", "target_type_id")
    for pk, original_name, content_type_id in rows.order_by("id"):
        yield Issue(
            message=f"Attachment #{pk} ({original_name}) has an empty file name.",
            object_ids=[pk],
            details={"attachment_id": pk, "target_type": _target_label(content_type_id)},
            repair="soft-delete the attachment row",
            fix=partial(_soft_delete_attachments, [pk]),
        )


@register("FIL-002", severity="warning", model="attachments.Attachment")
def attachment_targets_exist(context: CheckContext):
    """The target row of every live attachment exists (soft-deleted targets count as existing)."""
    content_type_ids = Attachment.objects.order_by().values_list("target_type_id", flat=True).distinct()
    attachments = connection.ops.quote_name(Attachment._meta.db_table)
    for content_type_id in sorted(content_type_ids):
        try:
            model = ContentType.objects.get_for_id(content_type_id).model_class()
        except ContentType.DoesNotExist:
            model = None
        if model is None:  # the target model is gone, so no target row can exist
            join, missing = "", "TRUE"
        else:
            table, pk = (
                connection.ops.quote_name(model._meta.db_table),
                connection.ops.quote_name(model._meta.pk.column),
            )
            join, missing = f"LEFT JOIN {table} t ON t.{pk} = a.target_id", f"t.{pk} IS NULL"
        sql = f"""
            SELECT a.target_id, array_agg(a.id ORDER BY a.id)
            FROM {attachments} a {join}
            WHERE a.target_type_id = %s AND a.deleted_at IS NULL AND {missing}
            GROUP BY a.target_id
            ORDER BY a.target_id
        """
        with connection.cursor() as cursor:
            cursor.execute(sql, [content_type_id])
            orphans = cursor.fetchall()
        label = _target_label(content_type_id)
        for target_id, ids in orphans:
            yield Issue(
                message=f"{len(ids)} attachment(s) point at {label} #{target_id}, which does not exist.",
                object_ids=ids,
                details={"target_type": label, "target_id": target_id, "attachment_ids": ids},
                repair="soft-delete the attachment rows (their files are kept)",
                fix=partial(_soft_delete_attachments, ids),
            )


@register("FIL-003", severity="warning", model="attachments.Attachment", storage=True)
def attachment_files_exist(context: CheckContext):
    """The stored file of every visible attachment exists."""
    stored_size = _size_lookup(_storage())
    rows = _visible_attachments().filter(file__regex=r"\S").values_list("id", "file").order_by("id")
    for pk, name in rows.iterator(chunk_size=10_000):
        if stored_size(name) is None:
            yield Issue(
                message=f"The file {name} of attachment #{pk} is missing from storage.",
                object_ids=[pk],
                details={"attachment_id": pk, "file": name},
            )


@register("FIL-004", severity="warning", model="attachments.Attachment", storage=True)
def attachment_file_sizes_match(context: CheckContext):
    """The stored file of every visible attachment has the recorded size (missing files are FIL-003's)."""
    stored_size = _size_lookup(_storage())
    rows = _visible_attachments().filter(file__regex=r"\S").values_list("id", "file", "size").order_by("id")
    for pk, name, size in rows.iterator(chunk_size=10_000):
        stored = stored_size(name)
        if stored is not None and stored != size:
            yield Issue(
                message=f"The file {name} of attachment #{pk} holds {stored} bytes, not the recorded {size}.",
                object_ids=[pk],
                details={"attachment_id": pk, "file": name, "recorded_size": size, "stored_size": stored},
            )


def _sha256(storage, root: Path | None, name: str) -> str | None:
    """The SHA-256 of the stored file ``name`` (read in 1 MB chunks), or None when it is missing."""
    try:
        path = None if root is None else _local_path(storage, root, name)
        content = open_stream(storage, name)[0] if path is None else open(path, "rb")  # noqa: SIM115 (closed below)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, SuspiciousFileOperation):
        return None
    digest = hashlib.sha256()
    with closing(content):
        while chunk := content.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


@register("FIL-005", severity="critical", model="attachments.Attachment", storage=True, needs_checksums=True)
def attachment_checksums_match(context: CheckContext):
    """The content of every stored file, deleted rows included, has the recorded SHA-256."""
    if not context.verify_checksums:
        return
    storage = _storage()
    root = local_root(storage)
    rows = Attachment.all_objects.filter(file__regex=r"\S").values_list("id", "file", "sha256").order_by("id")
    for pk, name, recorded in rows.iterator(chunk_size=1_000):
        actual = _sha256(storage, root, name)
        if actual is not None and actual != recorded:
            yield Issue(
                message=f"The content of {name} (attachment #{pk}) does not match its recorded SHA-256.",
                object_ids=[pk],
                details={"attachment_id": pk, "file": name, "recorded_sha256": recorded, "stored_sha256": actual},
            )


@register("FIL-006", severity="critical", model="attachments.Attachment")
def attachment_size_and_checksum_well_formed(context: CheckContext):
    """Every attachment, deleted ones included, records a size of 1 byte to 50 MB and a 64-hex SHA-256."""
    bad_size = Q(size__lt=1) | Q(size__gt=MAX_SIZE)
    # The same rule as SHA256_FORMAT, without its {64}, which PostgreSQL's regex engine matches 10x slower.
    bad_sha = Q(sha256__regex=r"[^0-9a-f]") | ~Q(sha256_length=64)
    rows = (
        Attachment.all_objects.annotate(sha256_length=Length("sha256"))
        .filter(bad_size | bad_sha)
        .values_list("id", "size", "sha256")
        .order_by("id")
    )
    for pk, size, sha256 in rows:
        size_out_of_range = not 1 <= size <= MAX_SIZE
        sha256_malformed = re.fullmatch(SHA256_FORMAT, sha256) is None
        sentences = []
        if size_out_of_range:
            sentences.append(f"a size of {size} bytes")
        if sha256_malformed:
            sentences.append(f"a malformed SHA-256 {sha256!r}")
        yield Issue(
            message=f"Attachment #{pk} records {' and '.join(sentences)}.",
            object_ids=[pk],
            details={
                "attachment_id": pk,
                "size": size,
                "sha256": sha256,
                "size_out_of_range": size_out_of_range,
                "sha256_malformed": sha256_malformed,
            },
        )


def _stored_files(storage, root: Path | None):
    """Yield (name, size, modification timestamp or None when not known yet) of every stored file outside the
    quarantine folder."""
    if is_bucket(storage):
        for stored in bucket_objects(storage):
            if not stored.name.startswith(f"{QUARANTINE}/"):
                yield stored.name, stored.size, stored.modified.timestamp()
        return
    if root is None:
        folders = [""]
        while folders:
            folder = folders.pop()
            subfolders, files = storage.listdir(folder)
            prefix = f"{folder}/" if folder else ""
            folders += [f"{prefix}{sub}" for sub in subfolders if prefix or sub != QUARANTINE]
            yield from ((f"{prefix}{name}", None, None) for name in files)
        return
    folders = [("", root)] if os.path.isdir(root) else []  # nothing stored yet
    while folders:
        prefix, path = folders.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if prefix or entry.name != QUARANTINE:
                        folders.append((f"{prefix}{entry.name}/", entry.path))
                elif entry.is_file():
                    yield f"{prefix}{entry.name}", None, None


@register("FIL-007", severity="info", model="attachments.Attachment", storage=True)
def stored_files_referenced(context: CheckContext):
    """Every stored file outside quarantine/ is referenced by an attachment row, live or deleted."""
    # One finding per file: each carries its own repair (the move of that one file).
    storage = _storage()
    root = local_root(storage)
    referenced = set(Attachment.all_objects.values_list("file", flat=True).iterator(chunk_size=10_000))
    settled_before = time.time() - UNREFERENCED_MIN_AGE
    unreferenced = sorted(entry for entry in _stored_files(storage, root) if entry[0] not in referenced)
    for name, size, modified in unreferenced:  # a bucket's listing gave size and time, other walks did not
        if modified is None and root is None:
            modified, size = storage.get_modified_time(name).timestamp(), storage.size(name)
        elif modified is None:
            try:
                status = os.stat(_local_path(storage, root, name))
            except FileNotFoundError:  # removed since the walk
                continue
            modified, size = status.st_mtime, status.st_size
        if modified > settled_before:
            continue
        yield Issue(
            message=f"The stored file {name} ({size} bytes) is referenced by no attachment row.",
            details={"file": name, "size": size},
            repair=f"move {name} under {QUARANTINE}/",
            fix=partial(_quarantine, name),
        )


def _extension():
    """The lower-case text after the last dot of the storage name (a name without one gives a value no
    allow-list holds); split_part costs a fraction of a regular expression over 150,000 rows."""
    return Lower(Func(F("file"), Value("."), Value(-1), function="split_part", output_field=CharField()))


@register("FIL-008", severity="warning", model="attachments.Attachment")
def attachment_category_and_type_allowed(context: CheckContext):
    """Every visible attachment has a category its target type allows and an allowed extension and content type."""
    target_types = _target_types()
    allowed_category = Q()
    for label, content_type_id in target_types.items():
        allowed_category |= Q(target_type_id=content_type_id, category__in=TARGET_CATEGORIES[label])
    allowed_type = Q()
    for extension, content_type in CONTENT_TYPES.items():
        allowed_type |= Q(extension=extension, content_type=content_type)
    rows = (
        _visible_attachments(few=True)
        .annotate(extension=_extension())
        .filter(~allowed_category | ~allowed_type)
        .values_list("id", "target_type_id", "category", "file", "content_type")
        .order_by("id")
    )
    for pk, content_type_id, category, name, content_type in rows:
        label = _target_label(content_type_id)
        extension = PurePosixPath(name).suffix.lower().removeprefix(".")  # "" without one, as the query sees it
        problems, sentences = [], []
        if label not in TARGET_CATEGORIES:
            problems.append("target_type_not_allowed")
            sentences.append(f"is attached to a {label}, which takes no attachments")
        elif category not in TARGET_CATEGORIES[label]:
            problems.append("category_not_allowed")
            sentences.append(f"has category {category}, which a {label} does not allow")
        if extension not in CONTENT_TYPES:
            problems.append("extension_not_allowed")
            sentences.append(f"has the extension {extension!r}, which is not allowed")
        elif content_type != CONTENT_TYPES[extension]:
            problems.append("content_type_mismatch")
            sentences.append(f"has content type {content_type} instead of {CONTENT_TYPES[extension]}")
        yield Issue(
            message=f"Attachment #{pk} {' and '.join(sentences)}.",
            object_ids=[pk],
            details={
                "attachment_id": pk,
                "target_type": label,
                "category": category,
                "extension": extension,
                "content_type": content_type,
                "problems": problems,
            },
        )
