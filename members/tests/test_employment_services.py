import datetime as dt
import functools
import threading
import time
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.utils import timezone

from audit.history import history_context
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import MemberEmployment, MemberStatus
from members.services import (
    employment_add,
    employment_end,
    employment_find_overlap,
    member_change_status,
)
from organizations.factories import EmployerFactory

pytestmark = pytest.mark.django_db

START = dt.date(2020, 1, 6)


def today():
    return timezone.localdate()


@pytest.fixture
def employed():
    """A member with one current job since START."""
    return MemberEmploymentFactory(start_date=START, end_date=None).member


def test_employment_add_ends_the_current_job_the_day_before_the_new_one(employed):
    old = employed.employments.get()
    employer = EmployerFactory()

    new = employment_add(member=employed, organization=employer, start_date=dt.date(2024, 3, 1), job_title="Foreman")

    old.refresh_from_db()
    assert (old.end_date, old.is_current) == (dt.date(2024, 2, 29), False)
    assert (new.organization, new.start_date, new.is_current, new.job_title) == (
        employer,
        dt.date(2024, 3, 1),
        True,
        "Foreman",
    )


def test_employment_add_refuses_a_second_current_job_without_ending_the_first(employed):
    with pytest.raises(ValidationError, match="already has a current job.*end it on 2024-02-29, or end it first"):
        employment_add(
            member=employed, organization=EmployerFactory(), start_date=dt.date(2024, 3, 1), end_current=False
        )

    assert list(employed.employments.values_list("start_date", "end_date")) == [(START, None)]


def test_employment_add_writes_nothing_when_the_new_job_fails_after_ending_the_current_one(employed, monkeypatch):
    original_save = MemberEmployment.save

    def fail_on_insert(self, *args, **kwargs):
        if self.pk is None:
            raise RuntimeError("disk full")
        return original_save(self, *args, **kwargs)

    monkeypatch.setattr(MemberEmployment, "save", fail_on_insert)

    with pytest.raises(RuntimeError, match="disk full"):
        employment_add(member=employed, organization=EmployerFactory(), start_date=dt.date(2024, 3, 1))

    assert list(employed.employments.values_list("start_date", "end_date", "is_current")) == [(START, None, True)]


def test_employment_add_refuses_a_new_current_job_starting_before_the_current_one(employed):
    with pytest.raises(ValidationError, match="started on 2020-01-06; a new current job must start after that day"):
        employment_add(member=employed, organization=EmployerFactory(), start_date=START)

    assert employed.employments.get().is_current is True


def test_employment_add_refuses_to_end_the_current_job_after_today(employed):
    start = today() + dt.timedelta(days=5)

    with pytest.raises(ValidationError, match="after today"):
        employment_add(member=employed, organization=EmployerFactory(), start_date=start)

    assert employed.employments.get().end_date is None


def test_employment_add_keeps_the_current_job_when_the_new_one_is_in_the_past(employed):
    past = employment_add(
        member=employed,
        organization=EmployerFactory(),
        start_date=dt.date(2018, 1, 1),
        end_date=dt.date(2019, 12, 31),
    )

    assert past.is_current is False
    assert employed.employments.get(is_current=True).start_date == START


def test_employment_add_refuses_overlapping_dates():
    member = MemberFactory()
    MemberEmploymentFactory(member=member, start_date=dt.date(2018, 1, 1), end_date=dt.date(2019, 6, 30))

    with pytest.raises(ValidationError, match="overlap another job of this member"):
        employment_add(
            member=member,
            organization=EmployerFactory(),
            start_date=dt.date(2019, 6, 1),
            end_date=dt.date(2019, 12, 31),
        )

    assert member.employments.count() == 1


def test_employment_add_refuses_an_end_date_after_today():
    member = MemberFactory()

    with pytest.raises(ValidationError, match="The end date cannot be after today."):
        employment_add(
            member=member, organization=EmployerFactory(), start_date=START, end_date=today() + dt.timedelta(days=1)
        )

    assert member.employments.count() == 0


def test_employment_add_shows_the_database_rule_as_a_message():
    member = MemberFactory()

    with pytest.raises(ValidationError, match="The hourly rate must be more than zero."):
        employment_add(member=member, organization=EmployerFactory(), start_date=START, hourly_rate=Decimal("0"))

    assert member.employments.count() == 0


def test_employment_add_refused_by_the_database_keeps_the_current_job(employed):
    # The INSERT is refused after the current job was ended in the same transaction: both are undone, and the
    # caller's transaction (here the test's) goes on.
    with pytest.raises(ValidationError, match="The hourly rate must be more than zero."):
        employment_add(
            member=employed, organization=EmployerFactory(), start_date=dt.date(2024, 3, 1), hourly_rate=Decimal("-1")
        )

    assert list(employed.employments.values_list("start_date", "end_date", "is_current")) == [(START, None, True)]


def test_employment_add_records_why_the_current_job_ended(employed):
    with history_context(source="command"):
        employment_add(member=employed, organization=EmployerFactory(name="Volt Co"), start_date=dt.date(2024, 3, 1))

    old = employed.employments.get(start_date=START)
    event = old.events.get(pgh_label="update")
    assert event.pgh_context["reason"] == "ended by a new job at Volt Co from 2024-03-01"


def test_employment_end_sets_the_end_date_and_stops_being_current(employed):
    job = employed.employments.get()

    employment_end(employment=job, end_date=dt.date(2023, 5, 31), reason="laid off")

    job.refresh_from_db()
    assert (job.end_date, job.is_current) == (dt.date(2023, 5, 31), False)


@pytest.mark.parametrize(
    ("end_date", "message"),
    [
        (dt.date(2019, 12, 31), "before it started"),
        (None, "after today"),
    ],
)
def test_employment_end_rejects_dates_outside_the_job(employed, end_date, message):
    job = employed.employments.get()

    with pytest.raises(ValidationError, match=message):
        employment_end(employment=job, end_date=end_date or today() + dt.timedelta(days=1))

    job.refresh_from_db()
    assert job.is_current is True


def test_employment_end_rejects_a_job_that_already_ended():
    job = MemberEmploymentFactory(start_date=START, end_date=dt.date(2021, 1, 1))

    with pytest.raises(ValidationError, match="already ended on 2021-01-01"):
        employment_end(employment=job, end_date=dt.date(2022, 1, 1))

    job.refresh_from_db()
    assert job.end_date == dt.date(2021, 1, 1)


def test_employment_find_overlap_ignores_the_job_itself_and_touching_ranges():
    member = MemberFactory()
    job = MemberEmploymentFactory(member=member, start_date=dt.date(2018, 1, 1), end_date=dt.date(2018, 12, 31))

    found = [
        employment_find_overlap(member=member, start_date=dt.date(2018, 6, 1), exclude_pk=job.pk),
        employment_find_overlap(member=member, start_date=dt.date(2019, 1, 1)),
        employment_find_overlap(member=member, start_date=dt.date(2017, 1, 1), end_date=dt.date(2018, 1, 1)),
    ]

    assert found == [None, None, job]


def test_member_change_status_retired_ends_the_current_job_on_the_given_day(employed):
    member = member_change_status(
        member=employed, status=MemberStatus.RETIRED, reason="", ended_on=dt.date(2025, 6, 30)
    )

    job = employed.employments.get()
    assert member.status == MemberStatus.RETIRED
    assert (job.end_date, job.is_current) == (dt.date(2025, 6, 30), False)


def test_member_change_status_deceased_ends_the_current_job_today_by_default(employed):
    member_change_status(member=employed, status=MemberStatus.DECEASED, reason="death certificate received")

    employed.refresh_from_db()
    assert employed.status == MemberStatus.DECEASED
    assert employed.employments.get().end_date == today()


def test_member_change_status_inactive_keeps_the_current_job(employed):
    member_change_status(member=employed, status=MemberStatus.INACTIVE, reason="")

    assert employed.employments.get().is_current is True


@pytest.mark.parametrize("status", [MemberStatus.SUSPENDED, MemberStatus.DECEASED])
def test_member_change_status_requires_a_reason(employed, status):
    with pytest.raises(ValidationError, match="A reason is required to set the status to"):
        member_change_status(member=employed, status=status, reason="  ")

    employed.refresh_from_db()
    assert employed.status == MemberStatus.ACTIVE
    assert employed.employments.get().is_current is True


def test_member_change_status_rejects_the_same_status():
    member = MemberFactory(status=MemberStatus.INACTIVE)

    with pytest.raises(ValidationError, match="already Inactive"):
        member_change_status(member=member, status=MemberStatus.INACTIVE, reason="")

    assert member.events.filter(pgh_label="update").count() == 0


def test_member_change_status_deceased_is_final_for_non_admins(make_user):
    member = MemberFactory(status=MemberStatus.DECEASED)

    with pytest.raises(ValidationError, match="only an administrator"):
        member_change_status(
            member=member, status=MemberStatus.ACTIVE, reason="clerical error", user=make_user("officer")
        )

    member.refresh_from_db()
    assert member.status == MemberStatus.DECEASED


def test_member_change_status_admin_may_correct_deceased_with_a_reason(make_user):
    member = MemberFactory(status=MemberStatus.DECEASED)

    member_change_status(member=member, status=MemberStatus.ACTIVE, reason="clerical error", user=make_user("admin"))

    member.refresh_from_db()
    assert member.status == MemberStatus.ACTIVE


def test_member_change_status_admin_needs_a_reason_to_correct_deceased(make_user):
    member = MemberFactory(status=MemberStatus.DECEASED)

    with pytest.raises(ValidationError, match="reason is required to change the status of a deceased member"):
        member_change_status(member=member, status=MemberStatus.ACTIVE, reason="", user=make_user("admin"))

    member.refresh_from_db()
    assert member.status == MemberStatus.DECEASED


def test_member_change_status_keeps_the_reason_in_the_history(employed):
    with history_context(source="command"):
        member_change_status(member=employed, status=MemberStatus.SUSPENDED, reason="dues arrears")

    event = employed.events.get(pgh_label="update")
    assert (event.status, event.pgh_context["reason"]) == (MemberStatus.SUSPENDED, "dues arrears")


def test_member_change_status_writes_nothing_when_the_status_write_fails(employed, monkeypatch):
    def fail(self, *args, **kwargs):
        raise RuntimeError("connection lost")

    monkeypatch.setattr(type(employed), "save", fail)

    with pytest.raises(RuntimeError, match="connection lost"):
        member_change_status(member=employed, status=MemberStatus.RETIRED, reason="")

    assert employed.employments.get().is_current is True


def wait_for_a_lock_wait(cursor, timeout: float = 10.0) -> None:
    """Return once another session of this database waits for a row lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # a transaction otherwise reads one snapshot of it
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        if cursor.fetchone()[0]:
            return
        time.sleep(0.02)
    raise AssertionError("no session waited for the lock")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["end it", "add a new current job"])
def test_a_job_whose_employer_changes_while_it_is_being_ended_is_still_ended(how):
    """The job is locked by a read without its employer: PostgreSQL checks a row locked after a concurrent change
    again against the rows its read joined, as first read, which would not find it."""
    job = MemberEmployment.objects.select_related("member").get(pk=MemberEmploymentFactory(start_date=START).pk)
    if how == "end it":
        end_it = functools.partial(employment_end, employment=job, end_date=dt.date(2024, 2, 29))
    else:
        new_job = {"organization": EmployerFactory(), "start_date": dt.date(2024, 3, 1)}
        end_it = functools.partial(employment_add, member=job.member, **new_job)
    outcome = {}

    def end_elsewhere():  # its own connection, which waits for the row lock below
        try:
            outcome["done"] = end_it()
        except Exception as exc:  # noqa: BLE001 (the test reports what went wrong)
            outcome["error"] = exc
        finally:
            connections.close_all()

    with transaction.atomic(), connection.cursor() as cursor:
        MemberEmployment.objects.filter(pk=job.pk).update(organization=EmployerFactory())
        ender = threading.Thread(target=end_elsewhere)
        ender.start()
        wait_for_a_lock_wait(cursor)
    ender.join(timeout=30)

    assert "error" not in outcome, outcome.get("error")
    job.refresh_from_db()
    assert job.end_date == dt.date(2024, 2, 29)
