"""ip2a.rows: the instances select_related() would give (read_record: one record; read_owned: the rows a record
owns), from SQL written once."""

from datetime import date

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS, connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from attachments.factories import AttachmentFactory
from attachments.models import Attachment, file_count_column
from ip2a.database.base import PREPARED_MARK
from ip2a.rows import _matching_statement, read_matching, read_owned, read_record, record_or_404
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member, MemberEmployment
from organizations.factories import EmployerFactory
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


def test_record_or_404_gives_the_live_record_and_404_for_a_deleted_or_missing_one():
    member, deleted = MemberFactory(), MemberFactory(deleted_at=timezone.now())

    assert record_or_404(Member, member.pk) == member
    assert record_or_404(Member, deleted.pk, live_only=False) == deleted
    for pk in (deleted.pk, 987_654_321):
        with pytest.raises(Http404, match="No member found"):
            record_or_404(Member, pk)


def owned(member, **options):
    return read_owned(member, "employments", using=DEFAULT_DB_ALIAS, **options)


def test_owned_rows_are_those_the_related_manager_reads_in_its_order_with_joined_rows_in_one_query():
    member = MemberFactory()
    employer = EmployerFactory(name="Bright Electric")
    older = MemberEmploymentFactory(member=member, start_date=date(2019, 3, 1), end_date=date(2020, 1, 31))
    newest = MemberEmploymentFactory(member=member, organization=employer, start_date=date(2024, 5, 6))
    same_day = MemberEmploymentFactory(member=member, start_date=date(2019, 3, 1), end_date=date(2019, 3, 2))
    MemberEmploymentFactory()  # another member's job
    expected = list(member.employments.select_related("organization"))

    with CaptureQueriesContext(connection) as queries:
        found = owned(member, joined=("organization",))
        employers = [job.organization.name for job in found]
        parents = [job.member for job in found]

    assert len(queries) == 1
    assert [job.pk for job in found] == [job.pk for job in expected] == [newest.pk, same_day.pk, older.pk]
    fields = [field.attname for field in MemberEmployment._meta.concrete_fields]
    assert [[getattr(job, name) for name in fields] for job in found] == [
        [getattr(job, name) for name in fields] for job in expected
    ]
    assert employers == [job.organization.name for job in expected]
    assert employers[0] == "Bright Electric"
    assert all(parent is member for parent in parents)
    assert not any(job._state.adding for job in found)


def test_extra_columns_are_set_on_each_row_the_live_file_counts_as_counts_for_gives_them():
    member = MemberFactory()
    with_files, without = (
        MemberEmploymentFactory(member=member),
        MemberEmploymentFactory(member=member, start_date=date(2010, 1, 4), end_date=date(2011, 1, 4)),
    )
    AttachmentFactory.create_batch(2, target_obj=with_files)
    AttachmentFactory(target_obj=with_files, deleted_at=timezone.now())  # a deleted file is not counted
    AttachmentFactory(target_obj=member)  # the member's own file is not a job's

    found = owned(member, extra=(file_count_column(MemberEmployment),))

    assert {job.pk: job.file_count for job in found} == {with_files.pk: 2, without.pk: 0}
    assert Attachment.objects.counts_for(found) == {with_files.pk: 2}


def test_matching_keeps_the_rows_equal_on_each_field_as_filter_does():
    member = MemberFactory()
    MemberEmploymentFactory(member=member, start_date=date(2019, 3, 1), end_date=date(2020, 1, 31))
    current = MemberEmploymentFactory(member=member, start_date=date(2024, 5, 6))
    MemberEmploymentFactory()  # another member's current job

    found = owned(member, joined=("organization",), matching={"is_current": True})
    past = owned(member, matching={"is_current": False, "job_title": current.job_title})

    assert [(job.pk, job.organization.pk) for job in found] == [(current.pk, current.organization_id)]
    assert past == list(member.employments.filter(is_current=False, job_title=current.job_title))


def test_matching_only_non_null_values_of_the_rows_own_columns():
    member = MemberFactory()
    with pytest.raises(ValueError, match="not NULL"):
        owned(member, matching={"end_date": None})
    for name in ("organization", "member__status", "no_such_field"):
        with pytest.raises(ValueError, match=f"own columns; '{name}' is not one"):
            owned(member, matching={name: 1})


def test_read_matching_gives_a_records_attachments_as_the_orm_does_live_only_or_all():
    member, other = MemberFactory(), MemberFactory()
    older = AttachmentFactory(target_obj=member)
    deleted = AttachmentFactory(target_obj=member, deleted_at=timezone.now())
    newest = AttachmentFactory(target_obj=member, uploaded_by=User.objects.create_user("uploader"))
    AttachmentFactory(target_obj=other)  # another record's file
    matching = {"target_type_id": ContentType.objects.get_for_model(Member).pk, "target_id": member.pk}
    expected = Attachment.all_objects.for_target(member).select_related("uploaded_by")

    with CaptureQueriesContext(connection) as queries:
        every = read_matching(Attachment, matching, joined=("uploaded_by",), live_only=False, using=DEFAULT_DB_ALIAS)
        uploaders = [attachment.uploaded_by for attachment in every]
    live = read_matching(Attachment, matching, live_only=True, using=DEFAULT_DB_ALIAS)

    assert len(queries) == 1
    assert [a.pk for a in every] == [a.pk for a in expected] == [newest.pk, deleted.pk, older.pk]
    assert [a.pk for a in live] == [a.pk for a in expected.filter(deleted_at__isnull=True)] == [newest.pk, older.pk]
    assert [user and user.username for user in uploaders] == ["uploader", None, None]
    assert every[0].file.name == newest.file.name


def test_member_current_employment_reads_the_open_job_with_its_employer_in_one_query():
    job = MemberEmploymentFactory(start_date=date(2024, 5, 6))
    MemberEmploymentFactory(member=job.member, start_date=date(2019, 3, 1), end_date=date(2020, 1, 31))
    member = Member.objects.get(pk=job.member_id)

    with CaptureQueriesContext(connection) as queries:
        current = member.current_employment
        employer = current.organization.name

    assert len(queries) == 1
    assert queries.captured_queries[0]["sql"].endswith(PREPARED_MARK)  # written once, not compiled per call
    assert (current.pk, employer, current.member is member) == (job.pk, job.organization.name, True)


def test_a_record_without_owned_rows_gives_an_empty_list():
    assert owned(MemberFactory(), joined=("organization",)) == []


def test_only_reverse_relations_to_many_rows_of_models_without_soft_delete_can_be_read():
    member = MemberFactory()
    with pytest.raises(ValueError, match="not a reverse relation to many rows"):
        read_owned(member, "student", using=DEFAULT_DB_ALIAS)
    with pytest.raises(ValueError, match="has soft-deleted rows"):
        read_owned(EmployerFactory(), "contacts", using=DEFAULT_DB_ALIAS)


@pytest.mark.parametrize("ordering", [["organization"], ["-organization__name"], ["no_such_field"]])
def test_an_ordering_not_by_the_rows_own_columns_is_refused(monkeypatch, ordering):
    monkeypatch.setattr(MemberEmployment._meta, "ordering", ordering)
    _matching_statement.cache_clear()  # a statement written for the real ordering must not answer
    try:
        with pytest.raises(ValueError, match="not by one of its own columns"):
            owned(MemberFactory())
    finally:
        _matching_statement.cache_clear()
