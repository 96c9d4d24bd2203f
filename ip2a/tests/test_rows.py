"""ip2a.rows.read_record: the instances select_related().get() would give, from SQL written once."""

import pytest
from django.db import DEFAULT_DB_ALIAS, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ip2a.rows import read_record
from members.factories import MemberFactory
from members.models import Member
from training.factories import StudentFactory

pytestmark = pytest.mark.django_db


def read(pk, **options):
    return read_record(Member, pk, using=DEFAULT_DB_ALIAS, **options)


def test_the_record_and_its_joined_row_are_those_the_orm_reads_in_one_query():
    member = MemberFactory(student=StudentFactory(first_name="Ana", last_name="Ruiz"))
    expected = Member.all_objects.select_related("student").get(pk=member.pk)

    with CaptureQueriesContext(connection) as queries:
        found = read(member.pk, live_only=True, joined=("student",))
        student = found.student

    assert len(queries) == 1
    fields = [field.attname for field in Member._meta.concrete_fields]
    assert [getattr(found, name) for name in fields] == [getattr(expected, name) for name in fields]
    assert (student.pk, student.first_name, student.last_name) == (expected.student.pk, "Ana", "Ruiz")
    assert not found._state.adding
    assert found._state.db == DEFAULT_DB_ALIAS


def test_a_missing_joined_row_is_cached_as_none():
    member = MemberFactory(student=None)

    found = read(member.pk, live_only=True, joined=("student",))

    with CaptureQueriesContext(connection) as queries:
        assert found.student is None
    assert len(queries) == 0


def test_live_only_leaves_out_a_soft_deleted_record_as_the_default_manager_does():
    member = MemberFactory(deleted_at=timezone.now())

    assert read(member.pk, live_only=True) is None
    assert read(member.pk, live_only=False).deleted_at == member.deleted_at


def test_no_row_gives_none():
    assert read(987_654_321, live_only=False) is None


def test_only_forward_relations_to_one_row_can_be_joined():
    with pytest.raises(ValueError, match="not a forward relation"):
        read(1, live_only=True, joined=("employments",))


def test_a_model_whose_fields_the_orm_converts_on_reading_is_refused():
    with pytest.raises(ValueError, match="read with converters: pgh_context"):
        read_record(Member.pgh_event_model, 1, live_only=False, using=DEFAULT_DB_ALIAS)
