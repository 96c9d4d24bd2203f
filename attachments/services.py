"""Attachment rules: what may be uploaded (DOMAIN.md §7) and who may list, download, upload or delete it (§5)."""

import hashlib
import logging
import re
import unicodedata

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction

from attachments.models import CONTENT_TYPES, MAX_SIZE, TARGET_CATEGORIES, Attachment, AttachmentCategory
from attachments.storage import storage_errors
from ip2a.roles import ADMIN, INSTRUCTOR, ORGANIZER, user_roles
from training.models import Enrollment

logger = logging.getLogger(__name__)

# The first bytes each checkable type must start with.
MAGIC_BYTES = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
}

# The permission that lets a user view each target model (a member's employments go with the member).
TARGET_VIEW_PERMISSIONS = {
    "members.member": "members.view_member",
    "members.memberemployment": "members.view_member",
    "organizations.organization": "organizations.view_organization",
    "training.student": "training.view_student",
    "training.enrollment": "training.view_student",
    "training.credential": "training.view_student",
}

# Owned targets are hidden while their parent is soft-deleted (DOMAIN.md §2): the parent's field name.
TARGET_PARENTS = {
    "members.memberemployment": "member",
    "training.enrollment": "student",
    "training.credential": "student",
}

# Roles that reach only some targets; any other role a user holds lifts the limit.
SCOPED_ROLES = {ORGANIZER, INSTRUCTOR}


# --- Upload ------------------------------------------------------------------------------------------------


def clean_original_name(name: str) -> str:
    """The uploaded name without folders or control characters, trimmed, at most 255 characters (may be "")."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = "".join(char for char in base if unicodedata.category(char) not in ("Cc", "Cf")).strip()
    if base in (".", ".."):
        return ""
    if len(base) > 255:  # shorten the stem, keep the extension
        stem, _, ext = base.rpartition(".")
        base = f"{stem[: 254 - len(ext)]}.{ext}" if stem and len(ext) <= 10 else base[:255]
    return base.strip()


def check_size(size: int) -> None:
    """Refuse empty files and files over 50 MB."""
    if size < 1:
        raise ValidationError("The file is empty.")
    if size > MAX_SIZE:
        raise ValidationError(f"The file is larger than the 50 MB limit ({size:,} bytes).")


class HashingFile(File):
    """Hands an upload to the storage, counting and hashing its bytes on the way (one pass, no full read).

    The filesystem storage takes chunks(); a bucket's uploader calls read() instead, and may seek back and read
    again (to checksum a part, or to retry it): only bytes past the furthest point read so far are counted."""

    def __init__(self, uploaded_file):
        super().__init__(uploaded_file, name=uploaded_file.name)
        self.bytes_read = 0
        self.sha256 = hashlib.sha256()

    def _count(self, data: bytes, position: int) -> None:
        if position > self.bytes_read:
            raise ValueError("The upload was read out of order; its checksum cannot be computed.")
        new = data[self.bytes_read - position :]
        if not new:
            return
        self.bytes_read += len(new)
        if self.bytes_read > MAX_SIZE:  # the declared size lied: stop writing once past the limit
            check_size(self.bytes_read)
        self.sha256.update(new)

    def chunks(self, chunk_size=None):
        self.file.seek(0)
        position = 0
        for chunk in self.file.chunks(chunk_size):
            self._count(chunk, position)
            position += len(chunk)
            yield chunk

    def read(self, size=-1):
        position = self.file.tell()
        data = self.file.read(size)
        self._count(data, position)
        return data


def _target_label(target) -> str:
    return target._meta.label_lower


def target_is_deleted(target) -> bool:
    """Whether the target, or the parent an owned target belongs to, is soft-deleted."""
    parent_field = TARGET_PARENTS.get(_target_label(target))
    parent = getattr(target, parent_field) if parent_field else None
    return any(getattr(obj, "deleted_at", None) is not None for obj in (target, parent))


def _check_target(target, category: str) -> None:
    label, name = _target_label(target), target._meta.verbose_name
    if label not in TARGET_CATEGORIES or target.pk is None:
        raise ValidationError(f"Files cannot be attached to a {name}.")
    if getattr(target, "deleted_at", None) is not None:
        raise ValidationError(f"This {name} has been deleted; restore it before adding files.")
    if target_is_deleted(target):
        raise ValidationError(f"This {name} belongs to a deleted record; restore that record before adding files.")
    allowed = TARGET_CATEGORIES[label]
    if category not in allowed:
        choices = ", ".join(AttachmentCategory(value).label for value in allowed)
        raise ValidationError(f"The category “{category}” is not allowed for a {name}; choose one of: {choices}.")


def _check_type(uploaded_file, name: str) -> str:
    """Return the file's extension once it is allowed and, where it can be checked, matches the content."""
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if ext not in CONTENT_TYPES:
        raise ValidationError(f"Files of this type cannot be attached. Allowed: {', '.join(CONTENT_TYPES)}.")
    if ext in MAGIC_BYTES:
        uploaded_file.seek(0)
        head = uploaded_file.read(8)
        uploaded_file.seek(0)
        if not head.startswith(MAGIC_BYTES[ext]):
            raise ValidationError(f"The file's content is not a valid {ext.upper()} file.")
    return ext


def _discard(storage, name: str) -> None:
    try:
        storage.delete(name)
    except storage_errors(storage):  # the failure being cleaned up after stays the one reported
        logger.exception("Could not remove the stored file %s after a failed upload.", name)


@transaction.atomic
def attachment_upload(*, target, uploaded_file, category: str, description: str = "", user=None) -> Attachment:
    """Store an uploaded file and its Attachment row under the upload rules of DOMAIN.md §7.

    Raises ValidationError naming the broken rule, or saying the storage failed; then neither a row nor a stored
    file is left behind.
    """
    _check_target(target, category)
    check_size(uploaded_file.size)  # refuse early; the streamed byte count below is what gets recorded
    name = clean_original_name(uploaded_file.name)
    ext = _check_type(uploaded_file, name)
    attachment = Attachment(
        target=target,
        original_name=name if name.rpartition(".")[0].strip() else f"file.{ext}",  # nothing before the extension
        content_type=CONTENT_TYPES[ext],
        category=category,
        description=description,
        uploaded_by=user,
    )
    attachment.full_clean(exclude=["file", "size", "sha256"])  # messages for the rest before any byte is written

    field = Attachment._meta.get_field("file")
    storage, stored_name = field.storage, field.generate_filename(attachment, f"upload.{ext}")
    content = HashingFile(uploaded_file)
    try:
        # A uuid4 name never collides, so the name asked for is the one written (and the one to discard).
        attachment.file.name = storage.save(stored_name, content)
    except ValidationError:
        _discard(storage, stored_name)
        raise
    except storage_errors(storage) as exc:  # a full disk; a bucket that refuses, is missing or does not answer
        _discard(storage, stored_name)
        logger.exception("Could not store the attachment file %s.", stored_name)
        raise ValidationError(
            "The file could not be stored; nothing was saved. Try again or tell an administrator."
        ) from exc

    try:
        check_size(content.bytes_read)
        attachment.size, attachment.sha256 = content.bytes_read, content.sha256.hexdigest()
        attachment.save()
    except BaseException:  # whatever failed, no file is left without its row
        _discard(storage, attachment.file.name)
        raise
    return attachment


# --- Who may list and download -----------------------------------------------------------------------------


def is_admin(user) -> bool:
    """Superusers and members of the admin role."""
    return user.is_superuser or ADMIN in user_roles(user)


def _teaches(user, target) -> bool:
    """Whether the target is a student (or a student's enrollment or credential) of the user's own cohorts."""
    own = Enrollment.objects.filter(
        cohort__deleted_at__isnull=True,
        cohort__assignments__instructor__user=user,
        cohort__assignments__instructor__deleted_at__isnull=True,
    )
    label = _target_label(target)
    if label == "training.enrollment":
        return own.filter(pk=target.pk).exists()
    if label in ("training.student", "training.credential"):
        return own.filter(student_id=target.pk if label == "training.student" else target.student_id).exists()
    return False


def _in_scope(user, target) -> bool:
    """Organizers reach organizations only, instructors their own students only; other roles are not limited."""
    roles = set(user_roles(user))
    if user.is_superuser or not roles or not roles <= SCOPED_ROLES:
        return True
    if ORGANIZER in roles and _target_label(target) == "organizations.organization":
        return True
    return INSTRUCTOR in roles and _teaches(user, target)


def _reaches(user, target) -> bool:
    """The target rules: the user may view the target's model, the target is in the user's scope, and a
    soft-deleted target (or one whose parent is soft-deleted) is for admins only."""
    label = _target_label(target)
    if label not in TARGET_VIEW_PERMISSIONS or not user.has_perm(TARGET_VIEW_PERMISSIONS[label]):
        return False
    if target_is_deleted(target):
        return is_admin(user)
    return _in_scope(user, target)


def _allowed(user, obj, permission: str) -> bool:
    attachment = obj if isinstance(obj, Attachment) else None
    target = attachment.target if attachment else obj
    if not user.has_perm(permission):
        return False
    if target is None or (attachment and attachment.is_deleted):
        return is_admin(user)
    return _reaches(user, target)


def attachment_can_view(user, attachment_or_target) -> bool:
    """Whether the user may list this attachment, or the attachments of this target."""
    return _allowed(user, attachment_or_target, "attachments.view_attachment")


def attachment_can_download(user, attachment_or_target) -> bool:
    """Whether the user may download this attachment, or the live attachments of this target (soft-deleted
    attachments, or a deleted target's: admins only)."""
    return _allowed(user, attachment_or_target, "attachments.download_attachment")


def attachment_can_upload(user, target) -> bool:
    """Whether the user may attach files to this target (never to a soft-deleted one)."""
    if not user.has_perm("attachments.add_attachment") or target_is_deleted(target):
        return False
    return _reaches(user, target)


def attachment_can_delete(user, attachment_or_target) -> bool:
    """Whether the user may soft-delete or restore this attachment, or the attachments of this target (the
    delete permission and the target rules; an attachment whose target row is gone: admins only)."""
    attachment = attachment_or_target if isinstance(attachment_or_target, Attachment) else None
    target = attachment.target if attachment else attachment_or_target
    if not user.has_perm("attachments.delete_attachment"):
        return False
    if target is None:
        return is_admin(user)
    return _reaches(user, target)
