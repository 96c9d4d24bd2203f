"""One record by its primary key, read with SQL written once per process instead of a QuerySet compiled per call.

A record page reads its record on every request, kept body or not. ``Model.objects.select_related(...).get(pk=…)``
builds a QuerySet and compiles its SQL each time: ~0.9 ms of wall time for a member with its student record,
against ~0.2 ms for the same statement written out (timeit in a shell, not a recorded benchmark), and about a
quarter of the portal's CPU on a kept member page under wrk. read_record() gives the same instances: the row
through ``Model.from_db`` and each joined row cached on its foreign key, as select_related leaves them.

read_owned() does the same for the rows a record owns (a member's jobs with their employers, which a member
page's first view reads): in place of the related manager with select_related() and a second query for the file
counts, one statement written once (the ad hoc timing is in the commit message that added it; the A/B run is in
docs/benchmarks.md, session 16). read_matching(), which it builds on, reads the rows equal to given values on a
few columns: a member's current job (the add-job form), a record's attachments (their panel).
"""

import functools

from django.core.exceptions import FieldDoesNotExist
from django.db import connections, router
from django.db.models import ManyToOneRel, Model, OneToOneRel
from django.http import Http404

from ip2a.database.base import prepared


def read_record(model: type[Model], pk, *, live_only: bool, joined: tuple[str, ...] = (), using: str) -> Model | None:
    """The row of ``model`` with primary key ``pk`` on database ``using`` (None if there is none), with the rows
    its forward relations ``joined`` point to loaded as select_related would. ``live_only`` leaves out a
    soft-deleted row, as the model's default manager does (``deleted_at IS NULL``). Models with fields the ORM
    converts on reading (JSONField and the like) are refused with ValueError: their values would come back raw."""
    sql, parts = _record_statement(model, joined, live_only, using)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    return None if row is None else _instance(model, joined, parts, row, using)


def record_or_404(model: type[Model], pk, *, live_only: bool = True, joined: tuple[str, ...] = ()) -> Model:
    """read_record() on the database the router reads ``model`` from, or Http404: what ``get_object_or_404(
    model.objects, pk=pk)`` gives (``all_objects`` with ``live_only=False``), for pages that read their record
    on every request (record pages, edit pages, the add-job and add-contact pages' parent)."""
    found = read_record(model, pk, live_only=live_only, joined=joined, using=router.db_for_read(model))
    if found is None:
        raise Http404(f"No {model._meta.verbose_name} found matching the query")
    return found


def read_owned(
    parent: Model,
    related_name: str,
    *,
    joined: tuple[str, ...] = (),
    extra: tuple = (),
    matching: dict | None = None,
    using: str,
) -> list[Model]:
    """The rows pointing to ``parent`` through its reverse relation ``related_name`` (``parent.<related_name>
    .select_related(*joined)`` in the related model's Meta.ordering), on database ``using``, each with
    ``parent`` and its ``joined`` rows cached on their foreign keys. ``extra`` and ``matching`` as
    read_matching() takes them. Reads every row the table holds for the parent: no soft-delete filter, so only
    for models without one (owned rows). Refused with ValueError as read_matching() refuses."""
    relation = parent._meta.get_field(related_name)
    if not isinstance(relation, ManyToOneRel) or isinstance(relation, OneToOneRel):
        raise ValueError(f"{type(parent).__name__}.{related_name} is not a reverse relation to many rows.")
    model, field = relation.related_model, relation.field
    if hasattr(model, "all_objects"):
        raise ValueError(f"{model.__name__} has soft-deleted rows, which read_owned() would not leave out.")
    matching = {field.attname: getattr(parent, field.target_field.attname), **(matching or {})}
    found = read_matching(model, matching, joined=joined, extra=extra, live_only=False, using=using)
    for instance in found:
        field.set_cached_value(instance, parent)
    return found


def read_matching(
    model: type[Model],
    matching: dict,
    *,
    joined: tuple[str, ...] = (),
    extra: tuple = (),
    live_only: bool,
    using: str,
) -> list[Model]:
    """The rows of ``model`` equal to ``matching`` ({field name: value}: the model's own columns, a foreign key
    by its attname, non-null values) on each field, as ``model.<manager>.filter(**matching)
    .select_related(*joined)`` reads them in Meta.ordering, on database ``using``, with their ``joined`` rows
    cached on their foreign keys. ``live_only`` leaves out soft-deleted rows. ``extra`` holds (attribute, SQL,
    params) triples: a column computed over the row (the table is aliased ``t0``), set as that attribute of
    each instance — a correlated count, say. Refused with ValueError as read_record() refuses, and for an
    ordering that is not by the model's own columns."""
    if any(value is None for value in matching.values()):
        raise ValueError("read_matching() matches values, not NULL: pass only non-null values.")
    equal = tuple(matching)
    names = tuple(name for name, _sql, _params in extra)
    extra_sql = tuple(sql for _name, sql, _params in extra)
    sql, parts = _matching_statement(model, equal, joined, extra_sql, live_only, using)
    connection = connections[using]
    params = [value for _name, _sql, values in extra for value in values]
    params += [_matched_field(model, name).get_db_prep_value(matching[name], connection) for name in equal]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found = []
    extra_start = parts[-1][3]
    for row in rows:
        instance = _instance(model, joined, parts, row, using)
        for name, value in zip(names, row[extra_start:], strict=True):
            setattr(instance, name, value)
        found.append(instance)
    return found


def _instance(model, joined, parts, row, using) -> Model:
    """The instance of ``model`` in ``row`` with its joined rows cached, from a statement's ``parts``."""
    (_model, attnames, start, end), *related = parts
    record = model.from_db(using, attnames, row[start:end])
    for field, (related_model, related_attnames, start, end) in zip(
        (model._meta.get_field(name) for name in joined), related, strict=True
    ):
        values = row[start:end]
        pk_value = values[related_attnames.index(related_model._meta.pk.attname)]
        found = None if pk_value is None else related_model.from_db(using, related_attnames, values)
        field.set_cached_value(record, found)
    return record


@functools.cache
def _record_statement(model, joined: tuple[str, ...], live_only: bool, using: str) -> tuple[str, list]:
    """The SELECT for read_record() and, per model read, (model, attnames, first column, end column)."""
    quote = connections[using].ops.quote_name
    select, parts = _select(model, joined, using)
    where = f"t0.{quote(model._meta.pk.column)} = %s"
    if live_only:
        where += f" AND t0.{quote(model._meta.get_field('deleted_at').column)} IS NULL"
    return prepared(f"{select} WHERE {where}"), parts


@functools.cache
def _matching_statement(
    model, equal: tuple[str, ...], joined: tuple[str, ...], extra: tuple[str, ...], live_only: bool, using: str
):
    """The SELECT for read_matching(): the columns of _select() and then the ``extra`` ones; the rows equal to a
    parameter on each of the fields ``equal`` names (and live: ``live_only``), in the model's Meta.ordering."""
    quote = connections[using].ops.quote_name
    select, parts = _select(model, joined, using, extra)
    order = []
    for name in model._meta.ordering:
        field = _own_column(model, name)
        order.append(f"t0.{quote(field.column)}{' DESC' if name.startswith('-') else ''}")
    conditions = [f"t0.{quote(_matched_field(model, name).column)} = %s" for name in equal]
    if live_only:
        conditions.append(f"t0.{quote(model._meta.get_field('deleted_at').column)} IS NULL")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return prepared(f"{select}{where}{' ORDER BY ' + ', '.join(order) if order else ''}"), parts


def _matched_field(model, name: str):
    """The field a read_matching() key names: one of the model's own columns, or a foreign key by its attname."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        field = None
    if field is None or not field.concrete or (field.is_relation and name != field.attname):
        raise ValueError(f"read_matching() matches {model.__name__}'s own columns; {name!r} is not one.")
    return field


def _own_column(model, name):
    """The field a Meta.ordering entry names, when it is one of the model's own columns (not a relation, which
    the ORM would sort by the related model's ordering, nor a lookup or an expression); else ValueError."""
    if not isinstance(name, str):
        raise ValueError(f"{model.__name__} is ordered by an expression, which read_matching() does not write.")
    bare = name.removeprefix("-")
    try:
        field = model._meta.pk if bare == "pk" else model._meta.get_field(bare)
    except FieldDoesNotExist:
        field = None
    if field is None or not field.concrete or (field.is_relation and bare != "pk"):
        raise ValueError(f"{model.__name__} is ordered by {name!r}, not by one of its own columns.")
    return field


def _select(model, joined: tuple[str, ...], using: str, extra: tuple[str, ...] = ()) -> tuple[str, list]:
    """``SELECT … FROM … JOIN …`` of ``model`` (aliased t0) and its ``joined`` relations, with ``extra`` columns
    last, and, per model read, (model, attnames, first column, end column)."""
    quote = connections[using].ops.quote_name
    tables = [(model, "t0", None)]
    for index, name in enumerate(joined, start=1):
        field = model._meta.get_field(name)
        if not (field.many_to_one or field.one_to_one) or not field.concrete:
            raise ValueError(f"{model.__name__}.{name} is not a forward relation to one row.")
        tables.append((field.related_model, f"t{index}", field))
    columns, parts, joins = [], [], []
    for table_model, alias, field in tables:
        fields = table_model._meta.concrete_fields
        converted = [f.name for f in fields if f.get_db_converters(connections[using])]
        if converted:  # the ORM converts these values as it reads them (a JSONField, say); this reader does not
            raise ValueError(f"{table_model.__name__} has fields read with converters: {', '.join(converted)}.")
        parts.append((table_model, [f.attname for f in fields], len(columns), len(columns) + len(fields)))
        columns += [f"{alias}.{quote(f.column)}" for f in fields]
        if field is not None:
            on = f"{alias}.{quote(field.target_field.column)} = t0.{quote(field.column)}"
            joins.append(f"LEFT OUTER JOIN {quote(table_model._meta.db_table)} {alias} ON {on}")
    columns += extra
    return f"SELECT {', '.join(columns)} FROM {quote(model._meta.db_table)} t0 {' '.join(joins)}", parts
