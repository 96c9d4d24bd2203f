"""Pagination for large tables: exact counts for small results, PostgreSQL's estimate for large ones, either
kept in the shared cache until the tables counted change (ip2a.caching)."""

import json

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

from ip2a.caching import computed_for


def planner_row_estimate(queryset: QuerySet) -> int:
    """Return PostgreSQL's estimate of how many rows ``queryset`` returns (EXPLAIN; no row is read)."""
    sql, params = queryset.order_by().query.get_compiler(using=queryset.db).as_sql()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """A paginator for large tables: exact counts for results under ``exact_below`` rows, PostgreSQL's
    planner estimate above, so a changelist never counts a whole large table (the last page may be short).
    The number is kept until one of the tables the query reads changes: a list shown again costs no count."""

    exact_below = 20_000
    known_versions = None  # data versions the view read already this request (ip2a.caching.query_versions)

    @cached_property
    def count(self):
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        return computed_for(queryset.order_by(), "count", lambda: self.measure(queryset), self.known_versions)

    def measure(self, queryset: QuerySet) -> int:
        """The exact count of a small result, the planner's estimate of a large one."""
        # One row past the limit tells small results (cheap to count) from large ones.
        probe = queryset.order_by().values_list("pk", flat=True)[self.exact_below : self.exact_below + 1]
        if not list(probe):
            return queryset.count()
        estimate = planner_row_estimate(queryset)
        return estimate if estimate > self.exact_below else queryset.count()
