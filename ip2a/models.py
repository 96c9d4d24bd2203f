"""Abstract building blocks shared by the domain apps (no tables of its own).

ip2a also needs a models module for Django to send it the post_migrate signal that re-syncs the roles.
"""

from django.apps import apps
from django.core.validators import RegexValidator
from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.db.models import Q
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Now
from django.utils import timezone


class TimeOrderIndex(models.Index):
    """A BRIN index that autovacuum keeps summarized: for columns that grow with the table's physical order (the
    times of append-only rows). django.contrib.postgres's BrinIndex would need that app installed, which runs
    type lookups on each new connection; this is the one statement it would write."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        statement = super().create_sql(model, schema_editor, using=" USING brin", **kwargs)
        statement.parts["extra"] = " WITH (autosummarize = on)" + statement.parts["extra"]
        return statement


def event_meta(prefix: str, *extra_indexes: models.Index, owner: str | None = None) -> dict:
    """Meta for a tracked model's history event table (``pghistory.track(meta=…)``): an index on the request id
    in each event's context, which the history log's "all changes of one request" filter reads (every import
    summary links to it); without it that filter reads every event table whole (docs/benchmarks.md, "History log
    filtered by request id").
    ``owner`` names the foreign key to the record whose page shows these events (audit.timeline.OWNED): an index
    on it and ``pgh_id`` reads that record's newest events directly. Without it PostgreSQL may walk the whole
    event table backwards by ``pgh_id`` looking for them (a member page's first view spent ~16 ms in the database
    on its jobs' events: EXPLAIN ANALYZE on the stress seed, before the seed analyzed the event tables).
    A BRIN index on ``pgh_created_at`` serves the history log's date filter: events are appended in time order,
    so a summary of each block range's times finds a period's events without reading the table. Without it
    every date filter read every event table whole (~70 ms for the 525,000 job events of a grown stress seed,
    and linear in the history's age). It costs writes next to nothing and autovacuum summarizes new ranges.
    ``prefix`` keeps the index names within PostgreSQL's and Django's limits; ``extra_indexes`` are the event
    table's own."""
    request = models.Index(KeyTransform("request_id", "pgh_context"), name=f"{prefix}_evt_request")
    by_time = TimeOrderIndex(fields=["pgh_created_at"], name=f"{prefix}_evt_time")
    newest = [models.Index(fields=[owner, "pgh_id"], name=f"{prefix}_evt_{owner}")] if owner else []
    return {"indexes": [request, by_time, *newest, *extra_indexes]}


def constraint_name(rule: str) -> str:
    """Return the house name of a constraint: ``<app_label>_<model>_<rule>``."""
    return f"%(app_label)s_%(class)s_{rule}"


def choice_constraint(field: str, choices) -> models.CheckConstraint:
    """A check that ``field`` holds one of the stored values of ``choices`` (NULL allowed when the column is)."""
    label = field.replace("_", " ").capitalize()
    return models.CheckConstraint(
        condition=Q(**{f"{field}__in": choices.values}) | Q(**{f"{field}__isnull": True}),
        name=constraint_name(f"{field}_valid"),
        violation_error_message=f"{label} must be one of: {', '.join(str(v) for v in choices.values)}.",
    )


def not_blank(field: str) -> models.CheckConstraint:
    """A check that required text holds at least one non-space character."""
    label = field.replace("_", " ").capitalize()
    return models.CheckConstraint(
        condition=Q(**{f"{field}__regex": r"\S"}),
        name=constraint_name(f"{field}_not_blank"),
        violation_error_message=f"{label} may not be blank.",
    )


class _AllRows:
    """A stand-in for a model class whose default manager sees every row, soft-deleted ones included."""

    def __init__(self, model):
        self._model = model

    def __getattr__(self, name):
        return getattr(self._model, name)

    @property
    def _default_manager(self):
        return self._model._base_manager


class UniqueOverAllRows(models.UniqueConstraint):
    """A unique constraint whose form validation, like the database, counts soft-deleted rows too.

    (Django validates unique constraints against the default manager, which hides deleted rows.)
    """

    def validate(self, model, instance, exclude=None, using=DEFAULT_DB_ALIAS):
        return super().validate(_AllRows(model), instance, exclude=exclude, using=using)


US_STATE = RegexValidator(r"^[A-Z]{2}$", "Use the two-letter state code, e.g. WA.")


class TimestampedModel(models.Model):
    """Adds created_at (database default, so raw inserts get it too) and updated_at (every save).

    On save, CharFields are trimmed and email fields lower-cased, so every path stores the same form.
    """

    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True, db_default=Now(), editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.normalize_text()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "updated_at"}  # auto_now needs naming here
        super().save(*args, **kwargs)
        self.__dict__.pop("_loaded_from_db", None)  # what it was read with is no longer what the row holds

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        self.__dict__.pop("_loaded_from_db", None)  # the values now differ from those it was read with

    @classmethod
    def from_db(cls, db, field_names, values, **kwargs):
        """The row as Django builds it, remembering the values it was read with (``loaded_values()``)."""
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._loaded_from_db = (field_names, values)  # two references: nothing is copied per row read
        return instance

    def loaded_values(self) -> dict:
        """{attname: value} of the columns this instance was read with from the database; empty for a row built
        in Python (a new one, or one not read through the ORM's from_db()) and once it was saved or refreshed."""
        loaded = self.__dict__.get("_loaded_from_db")
        if loaded is None or self._state.adding:
            return {}
        names, values = loaded
        return dict(zip(names, values, strict=True))

    def clean_fields(self, exclude=None):
        """Django's clean_fields(), except that a foreign key set to a row loaded from the database (a form's
        choice, a service's locked row) is not looked up again: Django asks whether that row exists with a query
        per key, on every full_clean (the add-job POST asked three times). A row hard-deleted since it was
        loaded (soft-deleted rows passed Django's check too) is refused by the foreign key constraint at commit:
        for the portal's forms, whose transaction is the outermost, as an IntegrityError shown as the generic
        conflict message; an admin save or an import, which catch errors around a savepoint, meet it at their
        own commit instead."""
        loaded = {field.name for field in self._meta.concrete_fields if _set_to_loaded_row(self, field)}
        super().clean_fields(exclude={*(exclude or ()), *loaded})

    def normalize_text(self):
        """Trim every CharField and lower-case every EmailField of this row, in place."""
        for field in self._meta.concrete_fields:
            if isinstance(field, models.CharField) and not field.choices:
                value = getattr(self, field.attname)
                if isinstance(value, str):
                    value = value.strip()
                    if isinstance(field, models.EmailField):
                        value = value.lower()
                    setattr(self, field.attname, value)


def _set_to_loaded_row(instance, field) -> bool:
    """Whether ``field`` is a foreign key of ``instance`` holding a row read from the database: not None, with no
    validators of its own and no limit_choices_to (which only Django's own check runs)."""
    if not field.many_to_one or field.remote_field.parent_link or field.validators or not field.is_cached(instance):
        return False
    related, value = field.get_cached_value(instance), getattr(instance, field.attname)
    return (
        related is not None
        and value is not None  # a row deleted by Model.delete() keeps _state but loses its pk: Django says "null"
        and not related._state.adding
        and getattr(related, field.target_field.attname) == value
        and not field.get_limit_choices_to()
    )


class AddressFields(models.Model):
    """The address block of DOMAIN.md §2."""

    address_line1 = models.CharField("address line 1", max_length=255, blank=True, default="", db_default="")
    address_line2 = models.CharField("address line 2", max_length=255, blank=True, default="", db_default="")
    city = models.CharField(max_length=100, blank=True, default="", db_default="")
    state = models.CharField(max_length=2, blank=True, default="", db_default="", validators=[US_STATE])
    postal_code = models.CharField(max_length=10, blank=True, default="", db_default="")

    class Meta:
        abstract = True

    @property
    def address_lines(self) -> list[str]:
        """The address as printed lines, empty parts left out."""
        city_line = " ".join(
            part for part in (f"{self.city}," if self.city else "", self.state, self.postal_code) if part
        )
        return [line for line in (self.address_line1, self.address_line2, city_line.strip(" ,")) if line]


def soft_delete_attachments_of(obj, *, reason: str, when=None) -> int:
    """Soft-delete the live attachments whose target is ``obj``; return how many."""
    if not apps.is_installed("attachments"):
        return 0
    from django.contrib.contenttypes.models import ContentType

    from audit.history import history_reason

    Attachment = apps.get_model("attachments", "Attachment")
    with history_reason(reason):
        return Attachment.objects.filter(
            target_type=ContentType.objects.get_for_model(type(obj), for_concrete_model=False), target_id=obj.pk
        ).update(deleted_at=when or timezone.now(), updated_at=timezone.now())


class SoftDeleteQuerySet(models.QuerySet):
    def live(self):
        return self.filter(deleted_at__isnull=True)

    def deleted(self):
        return self.filter(deleted_at__isnull=False)

    def delete(self):
        """Soft-delete every row, as Model.delete() does (owned rows included). Hard delete: hard_delete()."""
        return self.soft_delete(reason="deleted")

    delete.queryset_only = True

    @transaction.atomic
    def soft_delete(self, *, reason: str) -> tuple[int, dict]:
        """Soft-delete every live row of the queryset through Model.soft_delete (so cascades apply)."""
        rows = list(self.filter(deleted_at__isnull=True))
        for row in rows:
            row.soft_delete(reason=reason)
        return len(rows), {self.model._meta.label: len(rows)}

    def hard_delete(self):
        """Really delete the rows: for `reset` and tests only."""
        return super().delete()


class LiveManager(models.Manager):
    """Hides soft-deleted rows: the manager behind ``objects`` and every reverse relation.

    Models with their own QuerySet use ``LiveManager.from_queryset(TheirQuerySet)()`` for ``objects`` and
    ``models.Manager.from_queryset(TheirQuerySet)()`` for ``all_objects``.
    """

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class SoftDeleteModel(TimestampedModel):
    """A row that is hidden, never removed: ``soft_delete(reason)`` sets deleted_at, ``restore(reason)`` clears it.

    ``objects`` shows live rows and ``all_objects`` every row; related-object access goes through all rows so
    a live row can still show its soft-deleted parent.
    """

    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = LiveManager.from_queryset(SoftDeleteQuerySet)()
    all_objects = models.Manager.from_queryset(SoftDeleteQuerySet)()

    # Owned rows to soft-delete with this one: names of reverse relations to other soft-delete models.
    soft_delete_cascade: tuple[str, ...] = ()

    class Meta:
        abstract = True
        # Named explicitly: a subclass redefining `objects` must not make all_objects the default manager,
        # or reverse relations (organization.contacts) would show deleted rows.
        default_manager_name = "objects"
        base_manager_name = "all_objects"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def validate_constraints(self, exclude=None):
        """Validate constraints that read deleted_at too (forms never edit it, so Django would skip them)."""
        super().validate_constraints(exclude=set(exclude or ()) - {"deleted_at"})

    def delete(self, using=None, keep_parents=False, *, reason: str = "deleted"):
        """Soft delete (``Model.delete()`` never removes a row of this model)."""
        self.soft_delete(reason=reason)
        return 0, {}

    def hard_delete(self, using=None, keep_parents=False):
        """Really delete the row: for `reset` and tests only."""
        return super().delete(using=using, keep_parents=keep_parents)

    @transaction.atomic
    def soft_delete(self, *, reason: str) -> None:
        """Hide the row (and the live rows it owns, with the same timestamp); the reason goes to the history."""
        if not reason or not reason.strip():
            raise ValueError("A reason is required to delete a record.")
        if self.deleted_at is not None:
            return
        from audit.history import history_reason

        now = timezone.now()
        with history_reason(reason.strip()):
            for relation in self.soft_delete_cascade:
                getattr(self, relation).filter(deleted_at__isnull=True).update(deleted_at=now, updated_at=now)
            type(self).all_objects.filter(pk=self.pk).update(deleted_at=now, updated_at=now)
        self.deleted_at = now
        self.updated_at = now

    @transaction.atomic
    def restore(self, *, reason: str) -> None:
        """Bring the row back, with the owned rows that were deleted together with it."""
        if not reason or not reason.strip():
            raise ValueError("A reason is required to restore a record.")
        if self.deleted_at is None:
            return
        from audit.history import history_reason

        now = timezone.now()
        with history_reason(reason.strip()):
            for relation in self.soft_delete_cascade:
                related = getattr(self, relation).model.all_objects.filter(
                    **{getattr(type(self), relation).field.name: self}, deleted_at=self.deleted_at
                )
                self.restore_owned(related, now)
            type(self).all_objects.filter(pk=self.pk).update(deleted_at=None, updated_at=now)
        self.deleted_at = None
        self.updated_at = now

    def restore_owned(self, queryset, now) -> None:
        """Restore owned rows deleted together with this one (models override it to keep their rules)."""
        queryset.update(deleted_at=None, updated_at=now)


class OwnedQuerySet(models.QuerySet):
    @transaction.atomic
    def delete(self):
        """Delete the rows for real, after soft-deleting their live attachments (one UPDATE per call)."""
        ids = list(self.values_list("pk", flat=True))
        if ids and apps.is_installed("attachments"):
            from django.contrib.contenttypes.models import ContentType

            now = timezone.now()
            apps.get_model("attachments", "Attachment").objects.filter(
                target_type=ContentType.objects.get_for_model(self.model), target_id__in=ids
            ).update(deleted_at=now, updated_at=now)
        return super().delete()


class OwnedModel(TimestampedModel):
    """A hard row owned by a parent (employment, enrollment…). Deleting it soft-deletes its live attachments
    in the same transaction; its history keeps the last state."""

    objects = OwnedQuerySet.as_manager()

    class Meta:
        abstract = True

    @transaction.atomic
    def delete(self, using=None, keep_parents=False, *, reason: str = ""):
        """Delete the row for real, after soft-deleting its live attachments; ``reason`` goes to the history."""
        from audit.history import history_reason

        with history_reason(reason or f"{self._meta.verbose_name} deleted"):
            soft_delete_attachments_of(self, reason=reason or f"{self._meta.verbose_name} deleted")
            return super().delete(using=using, keep_parents=keep_parents)
