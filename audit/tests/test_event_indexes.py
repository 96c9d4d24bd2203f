"""The history log's request-id filter reads each event table through its index, not the whole table."""

import uuid

import pytest
from django.db import connection, transaction
from django.db.models import Q

from audit.timeline import tracked_models

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
