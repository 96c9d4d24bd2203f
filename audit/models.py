from datetime import timedelta

import pghistory
import pgtrigger
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from ip2a.models import choice_constraint


class AuditSource(models.TextChoices):
    WEB = "web", "Web"
    ADMIN = "admin", "Admin"
    IMPORT = "import", "Import"
    REPAIR = "repair", "Repair"
    SEED = "seed", "Seed"
    COMMAND = "command", "Command"
    SHELL = "shell", "Shell"


class AccessAction(models.TextChoices):
    VIEW = "view", "Viewed"
    EXPORT = "export", "Exported"
    DOWNLOAD = "download", "Downloaded"


class CommandOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


APPEND_ONLY_TRIGGER = pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)


class AccessLog(models.Model):
    """One view, export or download of personal data (append-only: the database rejects UPDATE and DELETE)."""

    created_at = models.DateTimeField(db_default=Now(), editable=False, db_index=True)
    # No database constraint and no SET NULL: the log is append-only (an UPDATE would be refused), so deleting a
    # user leaves the id behind and the username snapshot says who it was.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, default="", db_default="")
    action = models.CharField(max_length=10, choices=AccessAction)
    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    target_id = models.BigIntegerField(null=True, blank=True)
    object_repr = models.CharField("record", max_length=255, blank=True, default="", db_default="")
    path = models.CharField(max_length=2000, blank=True, default="", db_default="")
    query = models.CharField(max_length=2000, blank=True, default="", db_default="")
    row_count = models.IntegerField(null=True, blank=True)
    ip = models.CharField("IP address", max_length=45, blank=True, default="", db_default="")
    request_id = models.CharField(max_length=36, blank=True, default="", db_default="")

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "access log entry"
        verbose_name_plural = "access log"
        indexes = [
            models.Index(fields=["user", "created_at"], name="accesslog_user_time_idx"),
            models.Index(fields=["target_type", "target_id"], name="accesslog_target_idx"),
        ]
        constraints = [choice_constraint("action", AccessAction)]
        triggers = [APPEND_ONLY_TRIGGER]
        permissions = [
            ("view_history", "Can see the history tab of records"),
            ("view_global_log", "Can see the global history log"),
            ("export_history", "Can export the history log"),
        ]

    def __str__(self):
        return f"{self.username or 'unknown'} {self.get_action_display().lower()} {self.object_repr or self.path}"


class CommandRun(models.Model):
    """One run of an operator command (seed, integrity, repair, reset, loadtest…); its id is the history run_id."""

    command = models.CharField(max_length=100)
    arguments = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=10, choices=AuditSource, default=AuditSource.COMMAND)
    os_user = models.CharField(max_length=100, blank=True, default="", db_default="")
    hostname = models.CharField(max_length=255, blank=True, default="", db_default="")
    started_at = models.DateTimeField(db_default=Now())
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=CommandOutcome, default=CommandOutcome.RUNNING)
    exit_code = models.IntegerField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [choice_constraint("source", AuditSource), choice_constraint("outcome", CommandOutcome)]

    def __str__(self):
        return f"{self.command} #{self.pk} ({self.get_outcome_display().lower()})"


LOGIN_FAILURE_KEEP = timedelta(days=1)


class LoginFailureQuerySet(models.QuerySet):
    def for_pair(self, username: str, ip: str):
        return self.filter(username=username, ip=ip)

    def stale(self, now):
        """Rows that can no longer count towards any lockout (and a day has passed)."""
        keep = max(LOGIN_FAILURE_KEEP, 2 * timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS))
        return self.filter(created_at__lt=now - keep)


class LoginFailure(models.Model):
    """One failed sign-in: the counter behind login throttling (ip2a/throttle.py), kept in the database so that
    every worker sees the same count.

    A username (lower-cased) and client address pair is refused for LOGIN_LOCKOUT_SECONDS after its
    LOGIN_FAILURE_LIMIT-th failure within LOGIN_LOCKOUT_SECONDS. A successful sign-in deletes the pair's rows.
    Not history and not append-only: rows older than a day say nothing about any lockout and are deleted by
    each new failure (one indexed DELETE), so the table stays small without a scheduled job. The log
    (logger ``ip2a.security``) keeps the lasting record of failures and refusals.
    """

    username = models.CharField(max_length=150)
    ip = models.CharField("IP address", max_length=45, blank=True, default="", db_default="")
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False, db_index=True)

    objects = LoginFailureQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["username", "ip", "-created_at"], name="loginfailure_pair_time_idx")]

    def __str__(self):
        return f"{self.username} from {self.ip or 'unknown address'} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class TrackedUser(User):
    """django.contrib.auth's User, seen from this app so that its history triggers live in our migrations."""

    class Meta:
        proxy = True


class TrackedUserGroup(User.groups.through):
    """User–group membership rows (auth_user_groups), seen from this app for the same reason."""

    class Meta:
        proxy = True


# The auth user (without password and last_login) and user–group membership are tracked too; their event
# tables live in this app because django.contrib.auth is not ours to migrate.
UserEvent = pghistory.create_event_model(
    TrackedUser,
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(),
    pghistory.DeleteEvent(),
    exclude=["password", "last_login"],
    app_label="audit",
    model_name="UserEvent",
    abstract=False,
    obj_field=pghistory.ObjForeignKey(related_name="events", db_constraint=False),
)

UserGroupEvent = pghistory.create_event_model(
    TrackedUserGroup,
    pghistory.InsertEvent(),
    pghistory.DeleteEvent(),
    app_label="audit",
    model_name="UserGroupEvent",
    abstract=False,
    obj_field=None,
)
