"""The history log's request-id and date filters read each event table through an index, not the whole table."""

import re
import uuid

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.db.models import Q

from audit.filters import HistoryFilterSet
from audit.timeline import DOMAIN_MODELS, OWNED, event_model_of, events_statement, tracked_models

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", tracked_models(), ids=lambda model: model._meta.label)
def test_the_request_id_filter_matches_the_event_tables_index(model):
    """The filter audit/filters.py builds must compile to the very expression the index holds; with sequential
    scans off, PostgreSQL then picks that index (on a large table it does by itself, ~0.1 ms instead of ~1 s)."""
    events = model.pgh_event_model.objects.filter(Q(pgh_context__request_id=str(uuid.uuid4())))

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = events.explain()

    assert "_evt_request" in plan


OWNED_RELATIONS = [(owned, fk) for parent in OWNED.values() for owned, fk in parent.items()]


@pytest.mark.parametrize(("label", "fk"), OWNED_RELATIONS, ids=[label for label, _fk in OWNED_RELATIONS])
def test_each_owned_event_table_is_indexed_by_its_owner_and_newest_event(label, fk):
    """A record's history reads its owned rows' events newest first by the owner's key (audit.timeline.OWNED).
    An index on (owner, pgh_id) (ip2a.models.event_meta) answers that directly, whatever the table's statistics
    say; with the owner's column alone PostgreSQL misjudged a member's jobs and walked the whole event table
    backwards by pgh_id. (Which index the planner picks on a test's few rows depends on its statistics, so the
    index itself is what is checked.)"""
    table = event_model_of(apps.get_model(label))._meta.db_table

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)

    assert [fk, "pgh_id"] in [found["columns"] for found in constraints.values() if found["index"]]


def test_the_date_filter_reads_each_event_tables_time_index():
    """The statement a page of the history log runs for a date range (audit.timeline.events_statement: each
    domain event table's newest events, filtered as audit.filters.HistoryFilterSet says) can read every table
    through its BRIN index on pgh_created_at (ip2a.models.event_meta). Plain index scans and sequential scans are
    off because on a test's few rows the planner would walk the primary key backwards; on a grown stress seed it
    picks the BRIN index for a month with no events by itself (0.1 ms instead of a 70 ms sequential scan of the
    job events) and the primary key for today's."""
    scopes = HistoryFilterSet({"date_after": "2024-01-01", "date_before": "2024-01-31"}).scopes()
    models, statement = events_statement({model: scopes[model] for model in tracked_models(DOMAIN_MODELS)}, stop=50)

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {statement.sql}", statement.params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    used = {name.removesuffix("_evt_time") for name in re.findall(r"Bitmap Index Scan on (\w+_evt_time)", plan)}
    assert len(models) == len(DOMAIN_MODELS)
    assert len(used) == len(DOMAIN_MODELS), plan


def test_the_time_index_is_a_summarized_brin_index():
    """BRIN, so that it costs writes next to nothing, and autosummarized, so that new events are found by it
    without waiting for a manual summarize."""
    table = event_model_of(apps.get_model("members.memberemployment"))._meta.db_table

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname LIKE %s", [table, "%_evt_time"]
        )
        (definition,) = cursor.fetchone()

    assert "USING brin (pgh_created_at)" in definition
    assert "autosummarize='on'" in definition
