"""Reading the change history (DOMAIN.md §6): history events of the tracked models as timeline entries.

The triggers write one event table per tracked model. A page of history merges several of them: each table
is read newest first by its primary key (``pgh_id``, the insertion order; a date filter may instead read the
BRIN index on ``pgh_created_at``, ip2a.models.event_meta), limited to the rows the page can need, and the
streams are merged by event time in Python. All tables are read in one ``UNION ALL`` statement whose rows
come back as JSON, so a page costs the same few queries however many tables it touches:

1. the page's events (every table in scope);
2. the event before each update of the page, for the field diff (only when the page holds updates);
3. the related records that diffs and record names show as text (at most two rounds: a record's foreign
   keys, then theirs, e.g. attendance → session → cohort).
"""

import functools
import heapq
import itertools
import json
from collections import OrderedDict, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist
from django.db import DEFAULT_DB_ALIAS, connections, models, router
from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.utils import timezone
from django.utils.text import capfirst

from ip2a.database.base import prepared

# The domain's tracked models (DOMAIN.md §4 and §7), in the order their events are merged on equal times.
DOMAIN_MODELS = (
    "members.member",
    "members.memberemployment",
    "organizations.organization",
    "organizations.organizationcontact",
    "training.student",
    "training.enrollment",
    "training.attendance",
    "training.credential",
    "training.jatcapplication",
    "training.cohort",
    "training.cohortinstructor",
    "training.classsession",
    "training.instructor",
    "training.location",
    "attachments.attachment",
)
# Also in the global log: the auth user (its events live in the audit app).
AUDIT_MODELS = ("audit.trackeduser",)

ACTIONS = {"created": "Created", "changed": "Changed", "deleted": "Deleted", "restored": "Restored"}

# Columns no diff shows: bookkeeping, values derived from others, and storage internals.
HIDDEN_FIELDS = {"id", "created_at", "updated_at", "deleted_at", "is_current", "status_changed_on", "file", "sha256"}
HIDDEN_FIELDS_OF = {"audit.trackeduser": {"date_joined"}}

# Owned rows link to their parent's page (they have none of their own).
PARENTS = {
    "members.memberemployment": "member",
    "organizations.organizationcontact": "organization",
    "training.enrollment": "student",
    "training.attendance": "student",
    "training.credential": "student",
    "training.jatcapplication": "student",
    "training.cohortinstructor": "cohort",
    "training.classsession": "cohort",
}


@dataclass
class Entry:
    """One history event as people read it: who did what to which record, when, from where and why."""

    time: datetime
    who: str
    source: str
    action: str  # created, changed, deleted or restored
    record_type: str  # the model's verbose name
    record: str
    url: str | None
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (field label, old text, new text)
    reason: str = ""
    request_id: str = ""
    record_id: int | None = None
    model_label: str = ""  # "app_label.model"
    event_id: int = 0

    @property
    def what(self) -> str:
        """E.g. "Member changed"."""
        return f"{capfirst(self.record_type)} {self.action}"

    @property
    def source_label(self) -> str:
        from audit.models import AuditSource

        return AuditSource(self.source).label if self.source in AuditSource.values else self.source

    def __getitem__(self, key):
        """Read an entry like the dicts the member page used before (``entry["who"]``)."""
        return getattr(self, key)


def record_type_name(model) -> str:
    """The name a model's records go by in history ("user" for the auth user's stand-in)."""
    return "user" if model._meta.label_lower == "audit.trackeduser" else str(model._meta.verbose_name)


def tracked_models(labels=DOMAIN_MODELS) -> list[type[models.Model]]:
    """The tracked model classes for ``labels`` ("app_label.model"), in that order."""
    return [apps.get_model(label) for label in labels]


def event_model_of(model) -> type[models.Model]:
    if model._meta.label_lower == "audit.trackeduser":
        return apps.get_model("audit", "UserEvent")
    return model.pgh_event_model


def _has_field(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.concrete_fields)


def view_permission(model) -> str:
    """The permission to view ``model``'s records (for the auth user: Django's, which only admins hold)."""
    if model._meta.label_lower == "audit.trackeduser":
        return "auth.view_user"
    return f"{model._meta.app_label}.view_{model._meta.model_name}"


def may_read_related(user, model) -> bool:
    """Whether a diff may name a related ``model`` record to the user. The auth user is always named (its
    username already shows as who made each change), and a content type is a model's name, not a record."""
    model = model._meta.concrete_model
    if user is None or model is ContentType or model._meta.label_lower == "auth.user":
        return True
    return user.has_perm(view_permission(model))


def may_see_deleted(user, model) -> bool:
    """Whether the user may see soft-deleted ``model`` records (and the rows they own): those who may restore
    them, as on the record's page (ip2a.views.ObjectDetailView), and readers of the global log."""
    opts = model._meta
    return user.has_perm("audit.view_global_log") or user.has_perm(f"{opts.app_label}.delete_{opts.model_name}")


@functools.cache
def annotated_events(event_model):
    """All events of ``event_model`` with ``pgh_action`` (annotate_action), built once per process: building the
    annotation's expressions was a fifth of a record page's recent activity. Never evaluated itself; callers
    filter it, which clones it."""
    return annotate_action(event_model.objects.all())


def annotate_action(queryset):
    """Add ``pgh_action`` (created, changed, deleted, restored) to an event queryset.

    A soft delete or restore is an update of ``deleted_at``: it is told from the event before it of the same
    record. When there is none (rows seeded without history), a soft delete is still recognised because
    ``soft_delete()`` stamps ``deleted_at`` and ``updated_at`` with the same time.
    """
    event_model = queryset.model
    if not _has_field(event_model, "deleted_at"):
        return queryset.annotate(
            pgh_action=Case(
                When(pgh_label="insert", then=Value("created")),
                When(pgh_label="delete", then=Value("deleted")),
                default=Value("changed"),
            )
        )
    previous = event_model.objects.filter(pgh_obj_id=OuterRef("pgh_obj_id"), pgh_id__lt=OuterRef("pgh_id"))
    previous_live = (
        previous.order_by("-pgh_id")
        .annotate(live=ExpressionWrapper(Q(deleted_at__isnull=True), output_field=BooleanField()))
        .values("live")[:1]
    )
    return queryset.annotate(pgh_previous_live=Subquery(previous_live, output_field=BooleanField())).annotate(
        pgh_action=Case(
            When(pgh_label="insert", then=Value("created")),
            When(pgh_label="delete", then=Value("deleted")),
            When(
                Q(deleted_at__isnull=False)
                & (Q(pgh_previous_live=True) | Q(pgh_previous_live__isnull=True, deleted_at=F("updated_at"))),
                then=Value("deleted"),
            ),
            When(deleted_at__isnull=True, pgh_previous_live=False, then=Value("restored")),
            default=Value("changed"),
        )
    )


# --- Reading rows of several tables in one statement ---------------------------------------------------------


def _python_value(model_field, value):
    if value is None or isinstance(model_field, models.JSONField):
        return value
    if isinstance(model_field, models.DecimalField):
        return Decimal(str(value))
    return model_field.to_python(value)


def instance_from_json(model, data: dict):
    """A model instance from a row given as JSON (``to_jsonb``); columns the model lacks are ignored."""
    fields = model._meta.concrete_fields
    values = [_python_value(f, data.get(f.column)) for f in fields]
    return model.from_db(DEFAULT_DB_ALIAS, [f.attname for f in fields], values)


@dataclass(frozen=True)
class Statement:
    """Compiled SQL with its parameters and the alias it runs on."""

    sql: str
    params: tuple
    alias: str


def union_statement(querysets) -> Statement | None:
    """Several querysets (any models, each ordered and sliced as it likes) compiled as one UNION ALL statement
    on the querysets' alias (the router's choice: the replica on read-only pages); None for no querysets."""
    selects, alias = [], DEFAULT_DB_ALIAS
    for queryset in querysets:
        alias = queryset.db
        selects.append(queryset.query.get_compiler(using=queryset.db).as_sql())
    return sql_union(selects, alias)


def sql_union(selects: list[tuple[str, tuple]], alias: str) -> Statement | None:
    """Several SELECTs given as (SQL, params), each ordered as it likes, as one UNION ALL statement whose rows
    run_union() reads; None for none."""
    parts, params = [], []
    for index, (sql, select_params) in enumerate(selects):
        parts.append(f"(SELECT {index} AS part, ROW_NUMBER() OVER () AS n, to_jsonb(r)::text FROM ({sql}) r)")
        params.extend(select_params)
    if not parts:
        return None
    # Starting with SELECT keeps pghistory from prefixing the statement with its context (it leaves reads alone,
    # but knows them only by their first word), which a UNION starting with "(" would get.
    sql = f"SELECT * FROM ({' UNION ALL '.join(parts)}) AS parts ORDER BY part, n"
    return Statement(prepared(sql), tuple(params), alias)


def one_alias(models_read) -> str:
    """The database one statement reading all of ``models_read`` runs on: the router's choice when it is the same
    for each, else the primary, which holds every table (auth users stay on it while other reads of a read-only
    page go to a replica: ip2a/routers.py)."""
    aliases = {router.db_for_read(model) for model in models_read}
    return aliases.pop() if len(aliases) == 1 else DEFAULT_DB_ALIAS


# The later rounds of a page of history (the events before its updates, the records its entries name) read
# rows by their ids from SQL written once per table and alias rather than from querysets compiled per call,
# whose compiling was a large part of a member page's recent activity (the commit message has the ad hoc
# timing). An id list is one array parameter, so the SQL does not depend on how many there are.
def _pk_array_type(meta, alias: str) -> str:
    """The SQL type of an array of ``meta``'s primary keys (a serial key's values are integers: rel_db_type)."""
    pk_type = meta.pk.rel_db_type(connections[alias])
    if not pk_type:
        raise ValueError(f"{meta.label}'s primary key has no SQL type to read ids by.")
    return f"{pk_type}[]"


@functools.cache
def _rows_by_pk_sql(model, alias: str) -> str:
    quote, meta = connections[alias].ops.quote_name, model._meta
    ids_type = _pk_array_type(meta, alias)
    return f"SELECT * FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} = ANY(%s::{ids_type})"


@functools.cache
def _events_before_sql(event_model, alias: str) -> str:
    quote, meta = connections[alias].ops.quote_name, event_model._meta
    table, pk, obj = quote(meta.db_table), quote(meta.pk.column), quote(meta.get_field("pgh_obj").column)
    ids_type = _pk_array_type(meta, alias)
    before = f"SELECT p.{pk} FROM {table} p WHERE p.{obj} = e.{obj} AND p.{pk} < e.{pk} ORDER BY p.{pk} DESC LIMIT 1"
    wanted = f"SELECT ({before}) FROM {table} e WHERE e.{pk} = ANY(%s::{ids_type})"
    return f"SELECT * FROM {table} WHERE {pk} IN ({wanted}) ORDER BY {pk}"


def run_union(statement: Statement | None) -> list[tuple[int, dict]]:
    """(index of the queryset, row as a dict keyed by column) pairs of a union_statement(), each queryset's rows
    in its order."""
    if statement is None:
        return []
    with connections[statement.alias].cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        return [(part, json.loads(text, parse_float=Decimal)) for part, _n, text in cursor.fetchall()]


# --- Entries -------------------------------------------------------------------------------------------------


_RANKS = {label: rank for rank, label in enumerate((*DOMAIN_MODELS, *AUDIT_MODELS))}


def merge_key(event):
    """The order of events across tables, newest first (merge_key_of), of an event instance."""
    return merge_key_of(event.pgh_created_at, event.pgh_label, event.pgh_model)


def merge_key_of(created_at, label: str, model) -> tuple:
    """Newest first. Events of one transaction share its time: then creations count as older than other
    changes, and a parent's creation as older than its owned rows' (a member is written before its first job)."""
    return (created_at, label != "insert", _RANKS.get(model._meta.label_lower, -1))


def events_statement(scopes: dict, *, stop: int, action: str | None = None) -> tuple[list, Statement | None]:
    """The models of ``scopes`` ({tracked model: Q on its event table}) and the one statement reading the newest
    ``stop + 1`` events of each (read_events)."""
    models_in_scope = list(scopes)
    querysets = [
        _scoped_events(model, scopes[model], action).order_by("-pgh_id")[: stop + 1] for model in models_in_scope
    ]
    return models_in_scope, union_statement(querysets)


# Past this many events (deep pages, exports), the tables are read a page of PAGE_ROWS events at a time, newest
# first, and only as far as the merge needs: reading ``stop + 1`` rows of every table in one statement held up to
# that many rows of each table at once (for a 100,000-row export of the stress data, that read grew the process
# by ~750 MB; docs/benchmarks.md, session 22).
PAGED_ABOVE = 2_000
PAGE_ROWS = 2_000  # per table: an export holds at most a page of each table at once


def read_events(scopes: dict, *, start: int, stop: int, action: str | None = None) -> tuple[list, bool]:
    """The events ``start:stop`` (newest first) of the tables in ``scopes`` ({tracked model: Q on its event
    table}), and whether there are more after them. Each table is read up to ``stop + 1`` rows: in one statement,
    or beyond PAGED_ABOVE page by page as far as the merge takes it."""
    if stop > PAGED_ABOVE:
        streams = [_paged_events(model, scope, action) for model, scope in scopes.items()]
        events = list(itertools.islice(heapq.merge(*streams, key=merge_key, reverse=True), stop + 1))
        return events[start:stop], len(events) > stop
    models_in_scope, statement = events_statement(scopes, stop=stop, action=action)
    return events_of(models_in_scope, statement, start=start, stop=stop)


def export_events(scopes: dict, *, limit: int, action: str | None = None) -> tuple[int, bool, Iterator]:
    """(rows, more, events) of an export of the newest ``limit`` events of ``scopes``: how many rows it holds,
    whether older events are left out, and exactly that many events, newest first, read page by page as they
    are consumed (so an export never holds them all). Each table is read up to the newest event id it had when
    this was called, so events written later are left out. (An event of a transaction that commits meanwhile
    can have a lower id than one already committed: it is then in the file, in its place by time, and the
    oldest counted event is left out instead, so the file still holds ``rows`` rows.)"""
    newest, total = {}, 0
    for model, scope in scopes.items():
        # The action is a computed column (annotate_action): the rows are counted through it only when it filters.
        counted = _scoped_events(model, scope, action) if action else event_model_of(model).objects.filter(scope)
        found = counted.aggregate(newest=Max("pgh_id"))["newest"]
        if found is not None:
            newest[model] = found
            total += counted.filter(pgh_id__lte=found).order_by()[: limit + 1].count()  # enough to know "more"
    rows = min(total, limit)
    streams = [_paged_events(model, scopes[model], action, up_to=newest[model]) for model in scopes if model in newest]
    return rows, total > limit, itertools.islice(heapq.merge(*streams, key=merge_key, reverse=True), rows)


def _scoped_events(model, scope: Q, action: str | None):
    """The events of ``model``'s table in ``scope``, with their action (and only those of ``action``)."""
    queryset = annotated_events(event_model_of(model)).filter(scope)
    return queryset.filter(pgh_action=action) if action else queryset


def _paged_events(model, scope: Q, action: str | None, *, up_to: int | None = None):
    """The events of one table in ``scope``, newest first, read PAGE_ROWS at a time after the last one read;
    with ``up_to``, none newer than that event id."""
    queryset = _scoped_events(model, scope, action)
    last = None if up_to is None else up_to + 1
    while True:
        page = queryset if last is None else queryset.filter(pgh_id__lt=last)
        rows = run_union(union_statement([page.order_by("-pgh_id")[:PAGE_ROWS]]))
        events = [_event_from_row(model, row) for _part, row in rows]
        yield from events
        if len(events) < PAGE_ROWS:
            return
        last = events[-1].pgh_id


def _event_from_row(model, row: dict):
    """The event instance of a run_union() row of ``model``'s event table, with its action and tracked model."""
    event = instance_from_json(event_model_of(model), row)
    event.pgh_action = row["pgh_action"]
    event.pgh_model = model
    return event


def events_of(models_in_scope: list, statement: Statement | None, *, start: int, stop: int) -> tuple[list, bool]:
    """Run an events_statement() and merge its tables' events, newest first (read_events). The rows are merged
    by merge_key_of() their own values, and only the events ``start:stop`` are built as models: each table gives
    up to ``stop + 1`` rows, and the history log's first page used to build all of them (816 model instances
    for its 50 entries, most of the page's time)."""
    streams = defaultdict(list)
    for part, row in run_union(statement):
        streams[part].append(row)
    merged = heapq.merge(
        *(_keyed_rows(models_in_scope[part], streams[part]) for part in sorted(streams)),
        key=itemgetter(0),
        reverse=True,
    )
    rows = list(itertools.islice(merged, stop + 1))
    events = [_event_from_row(model, row) for _key, model, row in rows[start:stop]]
    return events, len(rows) > stop


def _keyed_rows(model, rows: list[dict]):
    """(merge_key_of() the event, model, row) for one table's run_union() rows, newest first by pgh_id."""
    created_at = event_model_of(model)._meta.get_field("pgh_created_at")
    for row in sorted(rows, key=itemgetter("pgh_id"), reverse=True):
        yield merge_key_of(_python_value(created_at, row["pgh_created_at"]), row["pgh_label"], model), model, row


def previous_events(events) -> dict:
    """The event before each update of ``events`` of the same record: {(model, pgh_id): previous event}."""
    updates = defaultdict(list)
    for event in events:
        if event.pgh_label == "update":
            updates[event.pgh_model].append(event.pgh_id)
    models_in_scope = list(updates)
    alias = one_alias([event_model_of(model) for model in models_in_scope])
    selects = [(_events_before_sql(event_model_of(model), alias), (updates[model],)) for model in models_in_scope]
    older = defaultdict(list)  # (model, record id) -> its earlier events, oldest first
    for part, row in run_union(sql_union(selects, alias)):
        model = models_in_scope[part]
        event = instance_from_json(event_model_of(model), row)
        event.pgh_model = model
        older[(model, event.pgh_obj_id)].append(event)
    result = {}
    for event in events:
        if event.pgh_label != "update":
            continue
        candidates = [e for e in older[(event.pgh_model, event.pgh_obj_id)] if e.pgh_id < event.pgh_id]
        if candidates:
            result[(event.pgh_model, event.pgh_id)] = max(candidates, key=lambda earlier: earlier.pgh_id)
    return result


def record_of(event):
    """The tracked record as the event saw it (an unsaved instance; nothing is read from the database)."""
    model = event.pgh_model
    values = {f.attname: getattr(event, f.attname, None) for f in model._meta.concrete_fields}
    instance = model(**values)
    instance._state.adding = False
    return instance


class RelatedTexts:
    """Loads the related records that record names and diffs show, a few tables per query (see the module
    docstring), and puts them in the instances' relation caches so ``str()`` reads no more rows."""

    depth = 2

    def __init__(self):
        self.loaded = {}  # (model, pk) -> instance or None when the row is gone

    @staticmethod
    def _foreign_keys(model):
        return [
            f
            for f in model._meta.concrete_fields
            if f.is_relation and f.many_to_one or f.one_to_one
            if f.related_model is not ContentType and f.concrete
        ]

    def resolve(self, instances) -> None:
        """Fill the foreign-key caches of ``instances`` (and of the rows they point to, one level more)."""
        level = list(instances)
        for _ in range(self.depth):
            wanted = defaultdict(set)
            for instance in level:
                for fk in self._foreign_keys(type(instance)):
                    value = getattr(instance, fk.attname)
                    target = fk.related_model._meta.concrete_model
                    if value is not None and (target, value) not in self.loaded:
                        wanted[target].add(value)
                target = self._generic_target(instance)
                if target and target not in self.loaded:
                    wanted[target[0]].add(target[1])
            self._load(wanted)
            next_level = []
            for instance in level:
                for fk in self._foreign_keys(type(instance)):
                    value = getattr(instance, fk.attname)
                    if value is None or fk.is_cached(instance):
                        continue
                    related = self.loaded.get((fk.related_model._meta.concrete_model, value))
                    fk.set_cached_value(instance, related)
                    if related is not None:
                        next_level.append(related)
                target = self._generic_target(instance)
                if target and self.loaded.get(target) is not None:
                    next_level.append(self.loaded[target])
            level = next_level

    def _generic_target(self, instance):
        if instance._meta.label_lower != "attachments.attachment" or not instance.target_type_id:
            return None
        model = ContentType.objects.get_for_id(instance.target_type_id).model_class()
        return (model, instance.target_id) if model else None

    def _load(self, wanted: dict) -> None:
        models_in_scope = [model for model in wanted if wanted[model]]
        alias = one_alias(models_in_scope)
        selects = [(_rows_by_pk_sql(model, alias), (list(wanted[model]),)) for model in models_in_scope]
        for model in models_in_scope:
            for pk in wanted[model]:
                self.loaded[(model, pk)] = None
        for part, row in run_union(sql_union(selects, alias)):
            model = models_in_scope[part]
            instance = instance_from_json(model, row)
            self.loaded[(model, instance.pk)] = instance

    def get(self, model, pk):
        return self.loaded.get((model._meta.concrete_model, pk))

    def text(self, model, pk) -> str:
        related = self.get(model, pk)
        if related is None:
            return f"{model._meta.verbose_name} #{pk} (deleted)"
        return safe_str(related)


def safe_str(instance) -> str:
    """``str(instance)``, or "<type> #<id>" when it needs a related row that no longer exists."""
    try:
        return str(instance)
    except ObjectDoesNotExist:
        return f"{instance._meta.verbose_name} #{instance.pk}"


def value_text(model_field, value, related: RelatedTexts) -> str:
    """A stored value as people read it: choice labels, related records by name, yes/no, ISO dates."""
    if value is None or value == "":
        return ""
    if model_field.is_relation and model_field.related_model is ContentType:
        content_type = ContentType.objects.get_for_id(value)
        return str(content_type.model_class()._meta.verbose_name) if content_type.model_class() else str(value)
    if model_field.is_relation:
        return related.text(model_field.related_model, value)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def diff_fields(model):
    hidden = HIDDEN_FIELDS | HIDDEN_FIELDS_OF.get(model._meta.label_lower, set())
    return [f for f in model._meta.concrete_fields if f.name not in hidden]


def build_entries(events, *, user=None) -> list[Entry]:
    """Turn events (from read_events) into entries with their field diffs, in a fixed number of queries.
    Given ``user``, diffs leave out links to records of models the user may not view."""
    previous = previous_events(events)
    records = {(event.pgh_model, event.pgh_id): record_of(event) for event in events}
    befores = {key: record_of(event) for key, event in previous.items()}
    related = RelatedTexts()
    related.resolve([*records.values(), *befores.values()])
    entries = []
    for event in events:
        model = event.pgh_model
        record = records[(model, event.pgh_id)]
        before = befores.get((model, event.pgh_id))
        context = event.pgh_context or {}
        entries.append(
            Entry(
                time=event.pgh_created_at,
                who=context.get("username") or "—",
                source=context.get("source", ""),
                action=event.pgh_action,
                record_type=record_type_name(model),
                record=record_text(record, related),
                url=record_url(record),
                changes=changes_of(event, record, before, related, user=user),
                reason=context.get("reason", ""),
                request_id=context.get("request_id", ""),
                record_id=event.pgh_obj_id,
                model_label=model._meta.label_lower,
                event_id=event.pgh_id,
            )
        )
    return entries


def record_text(record, related: RelatedTexts) -> str:
    if record._meta.label_lower == "attachments.attachment":
        target = related.get(ContentType.objects.get_for_id(record.target_type_id).model_class(), record.target_id)
        return f"{record.original_name} (on {safe_str(target)})" if target is not None else record.original_name
    return safe_str(record)


def record_url(record) -> str | None:
    """The record's page, or its parent's for owned rows (an attachment: its target's)."""
    label = record._meta.label_lower
    if label == "attachments.attachment":
        model = ContentType.objects.get_for_id(record.target_type_id).model_class()
        if model is None:
            return None
        return record_url(model(pk=record.target_id)) if hasattr(model, "get_absolute_url") else None
    if label in PARENTS:
        fk = record._meta.get_field(PARENTS[label])
        parent_id = getattr(record, fk.attname)
        return fk.related_model(pk=parent_id).get_absolute_url() if parent_id else None
    if hasattr(record, "get_absolute_url"):
        return record.get_absolute_url()
    return None


def changes_of(event, record, before, related: RelatedTexts, *, user=None) -> list[tuple[str, str, str]]:
    """(field label, old text, new text) for each shown field the event changed; a creation lists the values
    it set; a deletion, a soft delete and a restore list none (the action says it). A link to a record of a
    model ``user`` may not view is left out (e.g. a member's student, for an organizer)."""
    model = event.pgh_model
    if event.pgh_action in ("deleted", "restored") or event.pgh_label == "delete":
        return []
    changes = []
    for model_field in diff_fields(model):
        new = getattr(record, model_field.attname)
        old = getattr(before, model_field.attname) if before is not None else None
        if before is None and event.pgh_label == "update":
            continue  # no earlier event to compare with (seeded without history)
        if new == old or (before is None and new in (None, "", False)):
            continue
        if model_field.is_relation and not may_read_related(user, model_field.related_model):
            continue
        changes.append(
            (
                capfirst(str(model_field.verbose_name)),
                value_text(model_field, old, related),
                value_text(model_field, new, related),
            )
        )
    return changes


# --- Who may see which tables --------------------------------------------------------------------------------


def visible_scopes(user, labels=DOMAIN_MODELS) -> dict:
    """{tracked model: Q} for the tracked models the user may view; the instructor role only sees the training
    records of their own cohorts (DOMAIN.md §5)."""
    from ip2a.roles import ORGANIZER, user_roles
    from training.models import limited_to_own_cohorts

    scopes = {}
    limited = limited_to_own_cohorts(user)
    organizer_only = not user.is_superuser and set(user_roles(user)) == {ORGANIZER}
    for model in tracked_models(labels):
        if not user.has_perm(view_permission(model)):
            continue
        scope = own_cohorts_scope(model, user) if limited else Q()
        if organizer_only and model._meta.label_lower == "attachments.attachment":
            organization = apps.get_model("organizations", "Organization")
            scope = Q(target_type=ContentType.objects.get_for_model(organization))  # DOMAIN.md §5
        if scope is not None:
            scopes[model] = scope & not_deleted_scope(model, user)
    return scopes


def not_deleted_scope(model, user) -> Q:
    """Leaves out the events of records that are soft-deleted now, of rows owned by one and of attachments on
    one, unless the user may see deleted records of that model (normal screens hide them, DOMAIN.md §2)."""

    def deleted(target, column):
        if not _has_field(target, "deleted_at") or may_see_deleted(user, target):
            return Q()
        return ~Q(**{f"{column}__in": target._base_manager.filter(deleted_at__isnull=False).values("pk")})

    label = model._meta.label_lower
    scope = deleted(model, "pgh_obj_id")
    if label in PARENTS:
        scope &= deleted(model._meta.get_field(PARENTS[label]).related_model, f"{PARENTS[label]}_id")
    if label == "attachments.attachment":
        for target_label in ("members.member", "organizations.organization", "training.student"):
            target = apps.get_model(target_label)
            hidden = deleted(target, "target_id")
            if hidden:
                scope &= ~Q(target_type=ContentType.objects.get_for_model(target)) | hidden
    return scope


def own_cohorts_scope(model, user):
    """The part of a training model's event table an instructor may see (None: none of it)."""
    from training.models import Enrollment, own_cohort_ids, own_student_ids

    label = model._meta.label_lower
    students, cohorts = own_student_ids(user), own_cohort_ids(user)
    if label == "training.student":
        return Q(pgh_obj_id__in=students)
    if label in ("training.credential", "training.jatcapplication"):
        return Q(student_id__in=students)
    if label == "training.enrollment":  # as EnrollmentQuerySet.visible_to: places in own cohorts only
        return Q(cohort_id__in=cohorts)
    if label == "training.attendance":  # as AttendanceQuerySet.visible_to: marks of own cohorts' sessions only
        sessions = apps.get_model("training", "ClassSession")._base_manager.filter(cohort_id__in=cohorts)
        return Q(session_id__in=sessions.values("pk"))
    if label == "training.cohort":
        return Q(pgh_obj_id__in=cohorts)
    if label in ("training.cohortinstructor", "training.classsession"):
        return Q(cohort_id__in=cohorts)
    if label == "training.instructor":
        teaching = apps.get_model("training", "CohortInstructor").objects.filter(cohort_id__in=cohorts)
        return Q(pgh_obj_id__in=teaching.values("instructor_id"))
    if label == "training.location":
        return Q()
    if label == "attachments.attachment":
        student_type = ContentType.objects.get_for_model(apps.get_model("training", "Student"))
        enrollment_type = ContentType.objects.get_for_model(Enrollment)
        return Q(target_type=student_type, target_id__in=students) | Q(
            target_type=enrollment_type,
            target_id__in=Enrollment._base_manager.filter(cohort_id__in=cohorts).values("pk"),
        )
    return None


def recent_events(*, user, limit=10) -> list[Entry]:
    """The last ``limit`` history events across the tracked domain models the user may view, newest first
    (the dashboard's recent-activity panel)."""
    scopes = visible_scopes(user)
    if not scopes:
        return []
    events, _more = read_events(scopes, start=0, stop=limit)
    return build_entries(events, user=user)


# --- One record and the rows it owns -------------------------------------------------------------------------

# The owned rows whose events a record's history shows: {parent: {owned model: its foreign key to the parent}}.
OWNED = {
    "members.member": {"members.memberemployment": "member_id"},
    "organizations.organization": {"organizations.organizationcontact": "organization_id"},
    "training.student": {
        "training.enrollment": "student_id",
        "training.attendance": "student_id",
        "training.credential": "student_id",
        "training.jatcapplication": "student_id",
    },
    "training.cohort": {"training.cohortinstructor": "cohort_id", "training.classsession": "cohort_id"},
}


def files_visible(obj, user) -> bool:
    """Whether the history of ``obj`` shows its attachments' events (record_scopes): not for a user who may not
    list the record's attachments (an organizer on a member)."""
    from attachments.services import attachment_can_view

    return user is None or attachment_can_view(user, obj)


def record_scopes(obj, *, user=None) -> dict:
    """{tracked model: Q on its event table} for the events of ``obj``, of the rows it owns (deleted ones too:
    their history keeps them) and of the attachments of both (left out unless files_visible())."""
    scopes = _own_scopes(type(obj)._meta.concrete_model, obj.pk, files=files_visible(obj, user))
    return _own_cohorts_only(scopes, user)


def _own_scopes(model, pk, *, files: bool) -> dict:
    """record_scopes() of the record ``pk`` of ``model``, for every user (no cohort limit)."""
    from attachments.models import TARGET_CATEGORIES

    label = model._meta.label_lower
    scopes = {model: Q(pgh_obj_id=pk)}
    attachment_targets = Q()
    if label in TARGET_CATEGORIES:
        attachment_targets |= Q(target_type=ContentType.objects.get_for_model(model), target_id=pk)
    for owned_label, fk in OWNED.get(label, {}).items():
        owned = apps.get_model(owned_label)
        scopes[owned] = Q(**{fk: pk})
        if owned_label in TARGET_CATEGORIES:
            ids = event_model_of(owned).objects.filter(**{fk: pk}).values("pgh_obj_id")
            attachment_targets |= Q(target_type=ContentType.objects.get_for_model(owned), target_id__in=ids)
    if attachment_targets and files:
        scopes[apps.get_model("attachments", "Attachment")] = attachment_targets
    return scopes


def _own_cohorts_only(scopes: dict, user) -> dict:
    from training.models import limited_to_own_cohorts

    if user is not None and limited_to_own_cohorts(user):  # an instructor: only what visible_scopes allows
        for scoped in list(scopes):
            limit = own_cohorts_scope(scoped, user)
            if limit is None:
                del scopes[scoped]
            else:
                scopes[scoped] &= limit
    return scopes


def record_version_scopes(model, pk) -> tuple[dict, dict]:
    """What versions a kept rendering of the record ``pk`` of ``model`` with its history
    (ip2a.caching.record_versions), as {name: (event table, {column: value})}: the scopes (the events of the
    record, of each row it owns and of the record's files) and the streams (the events of the files of any row
    of an owned kind). The files of an owned row are a stream of their kind, not a scope of the record: which
    rows are the record's is known from their events, and rows loaded without history (a seed) have none."""
    from attachments.models import TARGET_CATEGORIES

    model = model._meta.concrete_model  # a record's pk is all it needs: no instance is built for it
    label = model._meta.label_lower
    files = event_model_of(apps.get_model("attachments", "Attachment"))._meta.db_table
    scopes = {label: (event_model_of(model)._meta.db_table, {"pgh_obj_id": pk})}
    streams = {}
    if label in TARGET_CATEGORIES:
        own_type = ContentType.objects.get_for_model(model).pk
        scopes[f"{label} files"] = (files, {"target_type_id": own_type, "target_id": pk})
    for owned_label, fk in OWNED.get(label, {}).items():
        owned = apps.get_model(owned_label)
        scopes[owned_label] = (event_model_of(owned)._meta.db_table, {fk: pk})
        if owned_label in TARGET_CATEGORIES:
            streams[f"{owned_label} files"] = (files, {"target_type_id": ContentType.objects.get_for_model(owned).pk})
    return scopes, streams


def record_events(obj, *, user=None, start: int = 0, stop: int = 10) -> tuple[list[Entry], bool]:
    """Entries ``start:stop`` (newest first) of the history of ``obj`` and its owned rows, and whether more
    follow."""
    models_in_scope, statement = record_statement(obj, user=user, stop=stop)
    events, more = events_of(models_in_scope, statement, start=start, stop=stop)
    return build_entries(events, user=user), more


# Building and compiling a record's events statement was half of the member page's recent activity. Its shape
# depends only on the record's type, whether its files show, how many events are read, the alias and the
# database's content types, so each worker compiles it once per shape for a stand-in id and puts the record's
# id in its place. Instructors' scopes hold their own cohorts and are compiled every time.
STAND_IN_ID = -7_316_402_919  # no row has it: ids are positive
STATEMENTS_KEPT = 500
_statements: OrderedDict = OrderedDict()


def record_statement(obj, *, user=None, stop: int) -> tuple[list, Statement | None]:
    """events_statement() of record_scopes(obj, user=user), from this worker's compiled shapes."""
    from ip2a.caching import epoch, remember
    from training.models import limited_to_own_cohorts

    model = type(obj)._meta.concrete_model
    if user is not None and limited_to_own_cohorts(user):
        return events_statement(record_scopes(obj, user=user), stop=stop)
    files = files_visible(obj, user)
    alias = router.db_for_read(event_model_of(model))
    shape = (model._meta.label_lower, files, stop, alias, epoch())
    found = _statements.get(shape)
    if found is None:
        found = events_statement(_own_scopes(model, STAND_IN_ID, files=files), stop=stop)
        if found[1] is None or str(STAND_IN_ID) in found[1].sql:  # the id was written into the SQL itself
            return events_statement(record_scopes(obj, user=user), stop=stop)
        remember(_statements, shape, found, STATEMENTS_KEPT)
    models_in_scope, statement = found
    params = tuple(obj.pk if param == STAND_IN_ID else param for param in statement.params)
    return models_in_scope, Statement(statement.sql, params, statement.alias)
