"""Integrity checks of members and their employments (DOMAIN.md §8: MEM-001 … MEM-009, EMP-001 … EMP-008)."""

from datetime import date
from functools import partial

import pghistory
from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, OuterRef, Q
from django.db.models.functions import Coalesce, Greatest, Least, Upper
from django.utils import timezone

from ip2a.integrity import CheckContext, Issue, register
from members.models import (
    MAX_AGE,
    MAX_RATE,
    MEMBER_NUMBER_PATTERN,
    MIN_AGE,
    MIN_RATE,
    Member,
    MemberClassification,
    MemberEmployment,
    MemberStatus,
)
from organizations.models import Organization


def _member(pk, number) -> str:
    return f"Member {number} (#{pk})" if number and number.strip() else f"Member #{pk}"


def _ids(ids) -> str:
    return ", ".join(f"#{pk}" for pk in ids)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a common year
        return day.replace(year=day.year - years, day=28)


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _history_reason(default: str) -> str:
    # Model methods that take a reason nest a history context with it, which would overwrite the repair's
    # reason; handing them the repair's own reason keeps it. Entering returns the context already open.
    with pghistory.context() as current:
        return current.metadata.get("reason") or default


@register("MEM-001", severity="critical", model="members.Member")
def members_have_number_and_names(context: CheckContext):
    """Every member, deleted ones included, has a non-blank member number, first name and last name."""
    blank = {field: ~Q(**{f"{field}__regex": r"\S"}) for field in ("member_number", "first_name", "last_name")}
    rows = (
        Member.all_objects.filter(blank["member_number"] | blank["first_name"] | blank["last_name"])
        .annotate(**{f"blank_{f}": ExpressionWrapper(q, output_field=BooleanField()) for f, q in blank.items()})
        .values("pk", "member_number", *(f"blank_{f}" for f in blank))
        .order_by("pk")
    )
    for row in rows:
        fields = [field for field in blank if row[f"blank_{field}"]]
        yield Issue(
            message=f"{_member(row['pk'], row['member_number'])} has a blank "
            f"{', '.join(f.replace('_', ' ') for f in fields)}.",
            object_ids=[row["pk"]],
            details={"member_id": row["pk"], "fields": fields},
        )


def _set_status_inactive(member_id):
    Member.all_objects.filter(pk=member_id).exclude(status__in=MemberStatus.values).update(
        status=MemberStatus.INACTIVE, updated_at=timezone.now()
    )


@register("MEM-002", severity="critical", model="members.Member")
def member_statuses_are_valid(context: CheckContext):
    """Every member's status is one of the stored MemberStatus values."""
    rows = (
        Member.all_objects.filter(Q(status__isnull=True) | ~Q(status__in=MemberStatus.values))
        .values_list("pk", "member_number", "status")
        .order_by("pk")
    )
    for pk, number, status in rows:
        yield Issue(
            message=f"{_member(pk, number)} has the unknown status {status!r}.",
            object_ids=[pk],
            details={"member_id": pk, "status": status},
            repair="set status to inactive",
            fix=partial(_set_status_inactive, pk),
        )


@register("MEM-003", severity="critical", model="members.Member")
def member_classifications_are_valid(context: CheckContext):
    """Every member's classification is one of the stored MemberClassification values."""
    rows = (
        Member.all_objects.filter(Q(classification__isnull=True) | ~Q(classification__in=MemberClassification.values))
        .values_list("pk", "member_number", "classification")
        .order_by("pk")
    )
    for pk, number, classification in rows:
        yield Issue(
            message=f"{_member(pk, number)} has the unknown classification {classification!r}.",
            object_ids=[pk],
            details={"member_id": pk, "classification": classification},
        )


@register("MEM-004", severity="warning", model="members.Member")
def member_join_dates_are_not_in_the_future(context: CheckContext):
    """No live member joined the Local after today."""
    rows = (
        Member.objects.filter(join_date__gt=context.today)
        .values_list("pk", "member_number", "join_date")
        .order_by("pk")
    )
    for pk, number, join_date in rows:
        yield Issue(
            message=f"{_member(pk, number)} has a join date in the future ({join_date.isoformat()}).",
            object_ids=[pk],
            details={"member_id": pk, "join_date": join_date.isoformat()},
        )


@register("MEM-005", severity="critical", model="members.Member")
def member_numbers_are_unique(context: CheckContext):
    """No two members, deleted ones included, share a member number (ignoring case)."""
    groups = (
        Member.all_objects.annotate(number=Upper("member_number"))
        .values("number")
        .annotate(ids=ArrayAgg("pk", order_by="pk"), count=Count("pk"))
        .filter(count__gt=1)
        .order_by("number")
    )
    for group in groups:
        ids = group["ids"]
        yield Issue(
            message=f"Member number {group['number']!r} is held by {len(ids)} members ({_ids(ids)}).",
            object_ids=ids,
            details={"member_number": group["number"], "member_ids": ids},
        )


@register("MEM-006", severity="critical", model="members.Member")
def member_numbers_match_the_format(context: CheckContext):
    """Every member number is 5–10 digits with at most one letter before or after (MEMBER_NUMBER_PATTERN)."""
    rows = (
        Member.all_objects.filter(member_number__regex=r"\S")  # blank numbers are MEM-001's
        .exclude(member_number__regex=MEMBER_NUMBER_PATTERN)
        .values_list("pk", "member_number")
        .order_by("pk")
    )
    for pk, number in rows:
        yield Issue(
            message=f"Member #{pk} has the member number {number!r}, which is not in an allowed format.",
            object_ids=[pk],
            details={"member_id": pk, "member_number": number},
        )


@register("MEM-007", severity="info", model="members.Member")
def active_members_have_employment_history(context: CheckContext):
    """Every live active member has at least one employment."""
    jobs = MemberEmployment.objects.filter(member=OuterRef("pk"))
    ids = list(Member.objects.active().filter(~Exists(jobs)).order_by("pk").values_list("pk", flat=True))
    if ids:
        yield Issue(
            message=f"{len(ids)} active members have no employment history.",
            object_ids=ids,
            details={"member_ids": ids, "count": len(ids)},
        )


@register("MEM-008", severity="warning", model="members.Member")
def retired_and_deceased_members_have_no_current_job(context: CheckContext):
    """No live retired or deceased member has a current employment."""
    groups = (
        MemberEmployment.objects.filter(
            is_current=True,
            member__deleted_at__isnull=True,
            member__status__in=[MemberStatus.RETIRED, MemberStatus.DECEASED],
        )
        .values("member_id", "member__member_number", "member__status")
        .annotate(ids=ArrayAgg("pk", order_by="pk"))
        .order_by("member_id")
    )
    for group in groups:
        pk, status = group["member_id"], group["member__status"]
        yield Issue(
            message=f"{_member(pk, group['member__member_number'])} is {status} but has a current job "
            f"(employment {_ids(group['ids'])}).",
            object_ids=[pk],
            details={"member_id": pk, "status": status, "employment_ids": group["ids"]},
        )


@register("MEM-009", severity="warning", model="members.Member")
def member_ages_are_plausible(context: CheckContext):
    """Every live member with a date of birth is between 16 and 110 years old today."""
    youngest = _years_before(context.today, MIN_AGE)  # born after it: under 16
    oldest = _years_before(context.today, MAX_AGE + 1)  # born on or before it: over 110
    rows = (
        Member.objects.filter(Q(date_of_birth__gt=youngest) | Q(date_of_birth__lte=oldest))
        .values_list("pk", "member_number", "date_of_birth")
        .order_by("pk")
    )
    for pk, number, born in rows:
        age = _age(born, context.today)
        yield Issue(
            message=f"{_member(pk, number)} was born on {born.isoformat()}, which makes them {age} years old.",
            object_ids=[pk],
            details={"member_id": pk, "date_of_birth": born.isoformat(), "age": age},
        )


def _delete_orphan_employment(employment_id, parent_field, parent_model):
    # Re-checked here, so an employment whose parent came back is never deleted. Deleting through the
    # model also soft-deletes the employment's attachments.
    parent = parent_model.all_objects.filter(pk=OuterRef(parent_field))
    for employment in MemberEmployment.objects.filter(~Exists(parent), pk=employment_id):
        employment.delete(reason=_history_reason("orphan employment deleted"))


def _orphan_employments(parent_model, parent_column):
    employments, parents = MemberEmployment._meta.db_table, parent_model._meta.db_table
    with connection.cursor() as cursor:
        # A LEFT JOIN: the ORM's related lookups would join the missing row away.
        cursor.execute(
            f"SELECT e.id, e.{parent_column} FROM {employments} e "
            f"LEFT JOIN {parents} p ON p.id = e.{parent_column} WHERE p.id IS NULL ORDER BY e.id"
        )
        return cursor.fetchall()


@register("EMP-001", severity="critical", model="members.MemberEmployment")
def employments_have_a_member(context: CheckContext):
    """Every employment belongs to a member row that exists."""
    for pk, member_id in _orphan_employments(Member, "member_id"):
        yield Issue(
            message=f"Employment #{pk} belongs to member #{member_id}, which does not exist.",
            object_ids=[pk],
            details={"employment_id": pk, "member_id": member_id},
            repair="delete the employment",
            fix=partial(_delete_orphan_employment, pk, "member_id", Member),
        )


@register("EMP-002", severity="critical", model="members.MemberEmployment")
def employments_have_an_organization(context: CheckContext):
    """Every employment is at an organization row that exists."""
    for pk, organization_id in _orphan_employments(Organization, "organization_id"):
        yield Issue(
            message=f"Employment #{pk} is at organization #{organization_id}, which does not exist.",
            object_ids=[pk],
            details={"employment_id": pk, "organization_id": organization_id},
            repair="delete the employment",
            fix=partial(_delete_orphan_employment, pk, "organization_id", Organization),
        )


def _swap_dates(employment_id):
    # Only while still reversed, so a second run never swaps the dates back.
    MemberEmployment.objects.filter(pk=employment_id, end_date__lt=F("start_date")).update(
        start_date=F("end_date"), end_date=F("start_date"), updated_at=timezone.now()
    )


@register("EMP-003", severity="critical", model="members.MemberEmployment")
def employments_end_after_they_start(context: CheckContext):
    """No employment ends before it starts."""
    # Another job of the member, spanning its dates in whichever order they are stored (an open job runs
    # to today), that meets the swapped range [end_date, start_date].
    other_start = Least("start_date", Coalesce("end_date", "start_date"))
    other_end = Greatest("start_date", Coalesce("end_date", context.today))
    overlapping = (
        MemberEmployment.objects.filter(member_id=OuterRef("member_id"))
        .exclude(pk=OuterRef("pk"))
        .alias(other_start=other_start, other_end=other_end)
        .filter(other_start__lte=OuterRef("start_date"), other_end__gte=OuterRef("end_date"))
    )
    rows = (
        MemberEmployment.objects.filter(end_date__lt=F("start_date"))
        .annotate(overlaps=Exists(overlapping))
        .values_list("pk", "member_id", "start_date", "end_date", "overlaps")
        .order_by("pk")
    )
    for pk, member_id, start, end, overlaps in rows:
        yield Issue(
            message=f"Employment #{pk} of member #{member_id} ends on {end.isoformat()}, "
            f"before it starts on {start.isoformat()}.",
            object_ids=[pk],
            details={
                "employment_id": pk,
                "member_id": member_id,
                "start_date": start.isoformat(),
                "end_date": end.isoformat(),
                "swap_overlaps_other_job": overlaps,
            },
            repair=None if overlaps else "swap the start and end dates",
            fix=None if overlaps else partial(_swap_dates, pk),
        )


def _set_current_from_end_date(employment_id):
    now = timezone.now()
    MemberEmployment.objects.filter(pk=employment_id, is_current=True, end_date__isnull=False).update(
        is_current=False, updated_at=now
    )
    # Re-checked here too: never a second current job, whatever ran since the check.
    other_current = MemberEmployment.objects.filter(member_id=OuterRef("member_id"), is_current=True)
    MemberEmployment.objects.filter(~Exists(other_current), pk=employment_id, end_date__isnull=True).update(
        is_current=True, updated_at=now
    )


@register("EMP-004", severity="critical", model="members.MemberEmployment")
def employments_are_current_exactly_when_open(context: CheckContext):
    """Every employment is current exactly when it has no end date."""
    other_open = MemberEmployment.objects.filter(member_id=OuterRef("member_id"), end_date__isnull=True).exclude(
        pk=OuterRef("pk")
    )
    rows = (
        MemberEmployment.objects.filter(
            Q(is_current=True, end_date__isnull=False) | Q(is_current=False, end_date__isnull=True)
        )
        .annotate(other_open=Exists(other_open))
        # Jobs wrongly marked current first: their repair frees the member's one current slot.
        .order_by("-is_current", "pk")
        .values_list("pk", "member_id", "is_current", "end_date", "other_open")
    )
    for pk, member_id, is_current, end, other_open in rows:
        if is_current:
            problem, fixable = f"is marked current but ended on {end.isoformat()}", True
        else:
            problem, fixable = "has no end date but is not marked current", not other_open
        yield Issue(
            message=f"Employment #{pk} of member #{member_id} {problem}.",
            object_ids=[pk],
            details={
                "employment_id": pk,
                "member_id": member_id,
                "is_current": is_current,
                "end_date": end.isoformat() if end else None,
                "member_has_other_open_job": other_open,
            },
            repair=f"set is_current to {not is_current}" if fixable else None,
            fix=partial(_set_current_from_end_date, pk) if fixable else None,
        )


@register("EMP-005", severity="critical", model="members.Member")
def members_have_at_most_one_current_job(context: CheckContext):
    """No member has more than one current employment."""
    groups = (
        MemberEmployment.objects.filter(is_current=True)
        .values("member_id")
        .annotate(ids=ArrayAgg("pk", order_by="pk"), count=Count("pk"))
        .filter(count__gt=1)
        .order_by("member_id")
    )
    for group in groups:
        pk, ids = group["member_id"], group["ids"]
        yield Issue(
            message=f"Member #{pk} has {len(ids)} current jobs (employments {_ids(ids)}).",
            object_ids=[pk],
            details={"member_id": pk, "employment_ids": ids},
        )


@register("EMP-006", severity="info", model="members.MemberEmployment")
def employment_rates_are_plausible(context: CheckContext):
    """Every hourly rate of a live member's job lies within 10.00–150.00."""
    rows = (
        MemberEmployment.objects.filter(member__deleted_at__isnull=True)
        .filter(Q(hourly_rate__lt=MIN_RATE) | Q(hourly_rate__gt=MAX_RATE))
        .values_list("pk", "member_id", "hourly_rate")
        .order_by("pk")
    )
    for pk, member_id, rate in rows:
        yield Issue(
            message=f"Employment #{pk} of member #{member_id} pays {rate} an hour, "
            f"outside {MIN_RATE:.2f}–{MAX_RATE:.2f}.",
            object_ids=[pk],
            details={"employment_id": pk, "member_id": member_id, "hourly_rate": str(rate)},
        )


# A member's jobs in start order: a job overlaps an earlier one when it starts before the latest end so far,
# and a later one when the next job starts before it ends (LEAD ignores the frame). One window over the
# (member, start_date) order, so the query scans the table once. An open job runs to today; ranges include
# both ends.
OVERLAPS_SQL = """
SELECT j.member_id, array_agg(j.id ORDER BY j.start_date, j.id)
FROM (
    SELECT e.id, e.member_id, e.start_date,
           e.start_date <= MAX(e.last_day) OVER earlier OR e.last_day >= LEAD(e.start_date) OVER earlier AS overlaps
    FROM (
        SELECT id, member_id, start_date, GREATEST(start_date, COALESCE(end_date, %(today)s)) AS last_day
        FROM {employments}
    ) e
    WINDOW earlier AS (PARTITION BY e.member_id ORDER BY e.start_date ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
) j
JOIN {members} m ON m.id = j.member_id AND m.deleted_at IS NULL
WHERE j.overlaps
GROUP BY j.member_id
ORDER BY j.member_id
"""


@register("EMP-007", severity="warning", model="members.MemberEmployment")
def employments_of_a_member_do_not_overlap(context: CheckContext):
    """No two jobs of a live member overlap in time (an open job runs to today)."""
    sql = OVERLAPS_SQL.format(employments=MemberEmployment._meta.db_table, members=Member._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, {"today": context.today})
        rows = cursor.fetchall()
    for member_id, ids in rows:
        yield Issue(
            message=f"Member #{member_id} has {len(ids)} jobs with overlapping dates (employments {_ids(ids)}).",
            object_ids=ids,
            details={"member_id": member_id, "employment_ids": ids},
        )


@register("EMP-008", severity="warning", model="members.MemberEmployment")
def employment_end_dates_are_not_in_the_future(context: CheckContext):
    """No job of a live member ends after today."""
    rows = (
        MemberEmployment.objects.filter(end_date__gt=context.today, member__deleted_at__isnull=True)
        .values_list("pk", "member_id", "end_date")
        .order_by("pk")
    )
    for pk, member_id, end in rows:
        yield Issue(
            message=f"Employment #{pk} of member #{member_id} ends in the future ({end.isoformat()}).",
            object_ids=[pk],
            details={"employment_id": pk, "member_id": member_id, "end_date": end.isoformat()},
        )
