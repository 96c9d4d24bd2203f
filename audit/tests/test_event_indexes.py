"""The history log's request-id filter reads each event table through its index, not the whole table."""

import uuid

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.db.models import Q

from audit.timeline import OWNED, event_model_of, tracked_models

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
def test_a_records_newest_owned_events_are_read_through_the_owner_index(label, fk):
    """A record's history reads its owned rows' events newest first by the owner's key (audit.timeline.OWNED).
    The event table's (owner, pgh_id) index (ip2a.models.event_meta) answers that directly; without it
    PostgreSQL may walk the whole table backwards by pgh_id, as it did for a member's jobs."""
    events = event_model_of(apps.get_model(label)).objects.filter(**{fk: 1}).order_by("-pgh_id")[:11]

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = events.explain()

    assert f"_evt_{fk.removesuffix('_id')} on" in plan
    assert "Sort" not in plan
