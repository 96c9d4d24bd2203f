"""Data versions: what lets the portal keep computed numbers and rendered fragments in the shared cache and
serve them only while they are right.

Every tracked model has a history event table filled by database triggers on every write path (web, admin,
imports, repairs, shell, raw SQL). A table's *version* is its newest event id plus how many of its last
RECENT_WINDOW ids are visible. The id alone would miss a transaction that took a lower id and committed after
a higher one (its event appears below the newest id); the count notices it, as long as fewer than
RECENT_WINDOW events were committed by others between its last event and its commit (web writes take
milliseconds; an import writes events until just before it commits). A value computed from some tables and
kept under a key holding their versions is therefore right for as long as that key is read: nothing has to be
invalidated, and every worker agrees because the versions come from the database.

Versions are read on the alias the rows they key are read from (the router's choice: the replica on read-only
pages, ip2a/routers.py): versions from the primary over rows from a lagging replica would keep old rows under
a new version.

Only the seed bypasses the triggers; it (and reset) clear the cache. Entries also expire after CACHE_SECONDS,
which bounds any miss of the rule above.
"""

import contextlib
import functools
import hashlib
import re
import uuid
from collections import OrderedDict

from django.apps import apps
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections, router

from ip2a.database.base import prepared

CACHE_SECONDS = 600
EPOCH_KEY = "ip2a:cache-epoch"
ASKED_KEPT = 5_000  # keys asked for once, remembered per worker (keep())
_asked: OrderedDict = OrderedDict()
# Ids below the newest in which a late commit is noticed. Counting them is most of the versions query's cost:
# 0.13 ms per table at 200, 0.25 ms at 1,000 (seven tables of the member page: 1.0 ms against 1.8 ms; timeit in
# a shell, not a recorded benchmark).
RECENT_WINDOW = 200
_QUOTED_NAME = re.compile(r'"([A-Za-z0-9_]+)"')

Version = tuple[int, int]


@functools.cache
def _tracked() -> list[tuple[type, type]]:
    """(model, its event model) for every model pghistory tracks."""
    return [(model, model.pgh_event_model) for model in apps.get_models() if hasattr(model, "pgh_event_model")]


@functools.cache
def tracked_tables() -> dict[str, str]:
    """{table of a tracked model: its history event table}."""
    return {model._meta.db_table: event_model._meta.db_table for model, event_model in _tracked()}


@functools.cache
def event_models() -> dict[str, type]:
    """{history event table: its event model}, for the tracked models."""
    return {event_model._meta.db_table: event_model for _model, event_model in _tracked()}


def table_versions(event_tables, using=None) -> dict[str, Version]:
    """{event table: (newest id, visible ids among the last RECENT_WINDOW)} in ONE query; (0, 0) when empty.
    Read on ``using``, the alias the versioned rows are read from; by default the router's choice for the event
    tables, which is that of the page's rows (the auth tables it reads from the primary are never older).

    Both are index-only reads of the primary key, and need no privilege beyond the SELECT the application
    role holds on the event tables."""
    tables = sorted(set(event_tables))
    if not tables:
        return {}
    reader = connections[using or router.db_for_read(event_models()[tables[0]])]
    return _read_versions(reader, _table_parts(tables, reader.ops.quote_name))


def _table_parts(tables, quote) -> list[tuple[str, list]]:
    return [
        (
            f"SELECT %s, newest, (SELECT count(*) FROM {quote(table)} WHERE pgh_id > newest - {RECENT_WINDOW}) "
            f"FROM (SELECT max(pgh_id) AS newest FROM {quote(table)}) AS last",
            [table],
        )
        for table in tables
    ]


def _read_versions(reader, parts) -> dict[str, Version]:
    sql = prepared(" UNION ALL ".join(part for part, _params in parts))
    params = [param for _part, part_params in parts for param in part_params]
    return _run_versions(reader, sql, params)


def _run_versions(reader, sql: str, params) -> dict[str, Version]:
    """{name: (newest id, count or sum)} from a versions statement's (name, newest, recent) rows."""
    with reader.cursor() as cursor:
        cursor.execute(sql, params)
        return {name: (newest or 0, recent) for name, newest, recent in cursor.fetchall()}


def record_versions(scopes: dict, *, streams=None, tables=(), using: str) -> dict[str, Version]:
    """The versions of one record's own history, of filtered event streams and of whole tables, in ONE query
    on ``using``. Scopes and streams are {name: (event table, {column: value})}, the rows of that table whose
    columns hold those values (audit.timeline.record_version_scopes); their SQL is written here, not compiled
    by the ORM, because a kept page reads them on every request.

    A scope's version is (its newest event id, how many events it has): the events of the record and the rows
    it owns, so a write to another record of the same table leaves it alone, and an event committed late below
    the newest id still moves the count. A stream's is (newest id, sum of its newest RECENT_WINDOW ids), for
    changes that cannot be told to be the record's (the files of any row it owns, which may have been loaded
    without history): it moves with any new or late event among those. ``tables`` are event tables versioned
    whole (table_versions), for what the record shows of rows it does not own (an employer's name)."""
    scopes = sorted(scopes.items())
    streams = sorted((streams or {}).items())
    shape = (
        tuple((name, table, tuple(conditions)) for name, (table, conditions) in scopes),
        tuple((name, table, tuple(conditions)) for name, (table, conditions) in streams),
        tuple(sorted(set(tables))),
        using,
    )
    sql, table_params = _record_versions_sql(*shape)
    params = list(table_params)
    for name, (_table, conditions) in (*scopes, *streams):
        params += [name, *conditions.values()]
    return _run_versions(connections[using], sql, params) if sql else {}


@functools.lru_cache(maxsize=256)
def _record_versions_sql(scopes, streams, tables, using) -> tuple[str, list]:
    """record_versions()' statement for one shape (the names, tables and columns of its scopes and streams, and
    its whole tables), written once per process: the values go in as parameters, the tables' names first."""
    quote = connections[using].ops.quote_name
    parts = _table_parts(tables, quote)
    table_params = [param for _part, part_params in parts for param in part_params]
    statements = [part for part, _params in parts]

    def where(columns) -> str:
        return " AND ".join(f"{quote(column)} = %s" for column in columns)

    for _name, table, columns in scopes:
        statements.append(f"SELECT %s, max(pgh_id), count(*) FROM {quote(table)} WHERE {where(columns)}")
    for _name, table, columns in streams:
        newest = f"SELECT pgh_id FROM {quote(table)} WHERE {where(columns)} ORDER BY pgh_id DESC LIMIT {RECENT_WINDOW}"
        statements.append(f"SELECT %s, max(pgh_id), sum(pgh_id) FROM ({newest}) AS stream")
    return prepared(" UNION ALL ".join(statements)), table_params


def data_versions(models) -> dict[str, Version]:
    """The versions of the given tracked models' event tables (see table_versions)."""
    tracked = tracked_tables()
    return table_versions(tracked[model._meta.db_table] for model in models)


def sql_tables(sql: str) -> set[str]:
    """The tables an SQL statement compiled by Django names (Django quotes every table it writes)."""
    return set(_QUOTED_NAME.findall(sql))


def query_versions(*querysets, also=(), known=None) -> dict[str, Version] | None:
    """The versions of every table the querysets' SQL reads (subqueries included) and of the models ``also``
    names (what prefetches and templates read besides), in one query on the first queryset's alias, or none
    when ``known`` (versions read earlier in the request) holds them all; None when one of those tables has no
    history (its changes could not be seen, so nothing computed from it may be kept). Raises EmptyResultSet
    for a none() queryset."""
    statements = [queryset.query.sql_with_params()[0] for queryset in querysets]
    return sql_versions(statements, also=also, known=known, using=querysets[0].db if querysets else None)


def sql_versions(statements, also=(), known=None, using=None) -> dict[str, Version] | None:
    """query_versions() for SQL statements compiled already, read on ``using`` (see table_versions)."""
    wanted = sql_event_tables(statements, also)
    if wanted is None:
        return None
    if known is not None and wanted <= known.keys():
        return {name: known[name] for name in wanted}
    return table_versions(wanted, using=using)


def sql_event_tables(statements, also=()) -> frozenset[str] | None:
    """The event tables whose versions key what the statements read (their tables, and those of the models
    ``also`` names); None when one of those tables has no history."""
    tables = {model._meta.db_table for model in also}
    for sql in statements:
        tables |= sql_tables(sql) & model_tables()
    tracked = tracked_tables()
    event_tables = set(tracked.values())
    if any(name not in tracked and name not in event_tables for name in tables):
        return None
    return frozenset(tracked.get(name, name) for name in tables)


@functools.cache
def model_tables() -> frozenset[str]:
    """The table of every model, many-to-many tables included."""
    return frozenset(model._meta.db_table for model in apps.get_models(include_auto_created=True))


def database_scope(alias: str = DEFAULT_DB_ALIAS) -> str:
    """A short name of the database behind ``alias`` (its server and name), part of every shared-cache key that
    holds its data: deployments or test runs sharing one cache can have equal versions and the same ids."""
    settings_dict = connections[alias].settings_dict
    return _scope_of(tuple(str(settings_dict.get(name)) for name in ("HOST", "PORT", "NAME")))


@functools.lru_cache(maxsize=64)
def _scope_of(server_and_name: tuple[str, ...]) -> str:
    return hashlib.sha256(repr(server_and_name).encode()).hexdigest()[:16]


def version_key(*parts, versions: dict[str, Version]) -> str:
    """A cache key of the parts and the versions, under the database's scope (database_scope)."""
    text = repr((database_scope(), parts, sorted(versions.items())))
    return "v:" + hashlib.sha256(text.encode()).hexdigest()


def cache_token(key: str) -> str:
    """The token stored under ``key`` in the shared cache; a new random one when there is none (after the
    cache was emptied), so a token never comes back to an earlier value. Replace it with new_token()."""
    token = cache.get(key)
    if token is None:
        cache.add(key, uuid.uuid4().hex, None)
        token = cache.get(key) or "unset"
    return token


def new_token(key: str) -> None:
    cache.set(key, uuid.uuid4().hex, None)


def epoch() -> str:
    """A token that changes whenever the shared cache is emptied (seed, reset, a restore must empty it): part
    of the keys of what workers keep in their own memory from the database (filter forms, option lists),
    since emptying tables by TRUNCATE or loading them with the triggers off moves no data version."""
    return cache_token(EPOCH_KEY)


def remember(store: OrderedDict, key, value, limit: int) -> None:
    """Put ``value`` under ``key`` in a per-worker store (a memo of this process), dropping the oldest entry once
    the store holds more than ``limit``: what every per-worker memo here is bounded by."""
    store[key] = value
    if len(store) > limit:
        with contextlib.suppress(KeyError):  # another thread may have dropped it meanwhile
            store.popitem(last=False)


def keep(key: str, value) -> None:
    """Store the value under the key once this worker has been asked for that key before. A key asked for
    once (a page of a table that changes all the time, a record nobody opens twice) is not worth a write to
    the shared cache: under a write-heavy load most keys are, and each write costs more than the render."""
    if _asked.pop(key, False) is None:  # asked before (pop, not del: another thread may take it meanwhile)
        cache.set(key, value, CACHE_SECONDS)
        return
    remember(_asked, key, None, ASKED_KEPT)


def computed_for(queryset, name: str, compute, known=None):
    """compute() (which reads what the queryset reads), kept under the versions of the tables in the
    queryset's SQL (taken from ``known`` when it holds them); computed every time when one of them has no
    history."""
    try:
        sql, params = queryset.query.sql_with_params()  # compiled once: for the tables read and for the key
    except EmptyResultSet:
        return compute()
    versions = sql_versions([sql], known=known, using=queryset.db)
    if versions is None:
        return compute()
    key = version_key(name, sql, tuple(map(repr, params)), versions=versions)
    value = cache.get(key)
    if value is None:
        value = compute()
        keep(key, value)
    return value
