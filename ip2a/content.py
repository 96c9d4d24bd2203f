"""Kept list pages checked against the rows they show, not against whole tables' data versions.

A list page kept under the data versions of its tables (ip2a.caching) is thrown away by any write to those
tables: under a load where members are edited every second, a members list page is almost never served from
the cache although its own fifty rows have not changed. A page whose rows come from a few statements can
instead be kept under a digest of those rows' values: one statement (``check_statement``) gives the digest
and the list's count, and the page is served while the digest is the one it was rendered from. That
statement reads what a render reads (the page's rows and the count) but builds no model, form or template.

Correctness needs the kept page and its digest to come from the same data: ``one_snapshot`` runs a full
render and its check statement in one REPEATABLE READ transaction, so no write can fall between them.
The count is not part of the key (a new member changes it on every page): the footer that shows it is
rendered per count (FilteredListView.footer_html). While no data version of the rows' tables has moved, the
page is served without the check statement (FilteredListView.kept_checked_page).
"""

import contextlib

from django.db import connections, transaction
from psycopg import IsolationLevel

# The digest of a statement's rows: every value of every row, in an order that does not depend on the plan.
_DIGEST = "(SELECT md5(string_agg(shown::text, chr(10) ORDER BY shown::text)) FROM ({sql}) AS shown)"


def check_statement(counted, shown, limit: int) -> tuple[str, list]:
    """One statement giving how many rows ``counted`` (a queryset) has, counting no further than ``limit``,
    then one digest per queryset of ``shown`` of all the values its rows hold. Raises EmptyResultSet for a
    none() queryset."""
    sql, params = counted.order_by().values("pk")[:limit].query.sql_with_params()
    parts, values = [f"(SELECT count(*) FROM ({sql}) AS counted)"], [*params]
    for queryset in shown:
        sql, params = queryset.query.sql_with_params()
        parts.append(_DIGEST.format(sql=sql))
        values += params
    return "SELECT " + ", ".join(parts), values


def run_check(using: str, sql: str, params) -> tuple[int, tuple]:
    """(count, digests) from a check statement, read on ``using``."""
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        count, *digests = cursor.fetchone()
    return count, tuple(digests)


@contextlib.contextmanager
def one_snapshot(using: str):
    """Run the block's reads on ``using`` in one REPEATABLE READ transaction, so every statement sees the same
    committed data. Inside a transaction already (a test's, or a caller's), the block runs in that one."""
    wrapper = connections[using]
    if not wrapper.get_autocommit() or wrapper.in_atomic_block:
        yield
        return
    wrapper.ensure_connection()
    native = wrapper.connection
    level = native.isolation_level
    # psycopg opens the transaction with "BEGIN ISOLATION LEVEL …" before the first statement (one round trip,
    # not a BEGIN and a SET TRANSACTION). The level is the connection's, so it is put back afterwards.
    native.isolation_level = IsolationLevel.REPEATABLE_READ
    try:
        with transaction.atomic(using=using):
            yield
    finally:
        if wrapper.connection is native and not native.closed:
            native.isolation_level = level
