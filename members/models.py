from datetime import date

import pghistory
import pgtrigger
from django.contrib.postgres.indexes import OpClass
from django.core.exceptions import ValidationError
from django.db import models, router
from django.db.models import F, FilteredRelation, Prefetch, Q
from django.db.models.functions import Upper
from django.utils import timezone

from ip2a.models import (
    AddressFields,
    LiveManager,
    OwnedModel,
    OwnedQuerySet,
    SoftDeleteModel,
    SoftDeleteQuerySet,
    UniqueOverAllRows,
    choice_constraint,
    constraint_name,
    event_meta,
    not_blank,
)
from ip2a.rows import read_owned

MEMBER_NUMBER_PATTERN = r"^([0-9]{5,10}|[A-Z][0-9]{5,10}|[0-9]{5,10}[A-Z])$"
NUMBER_FORMAT_MESSAGE = "A member number is 5 to 10 digits, with at most one letter before or after."
MIN_AGE, MAX_AGE = 16, 110  # [form] ages a date of birth may give (DOMAIN.md §4.2; MEM-009 re-checks)
MIN_RATE, MAX_RATE = 10, 150  # hourly rates outside this range are flagged (EMP-006), not refused


def age_on(born: date, day: date) -> int:
    """Whole years from ``born`` to ``day``."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class MemberStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    SUSPENDED = "suspended", "Suspended"
    RETIRED = "retired", "Retired"
    DECEASED = "deceased", "Deceased"


class MemberClassification(models.TextChoices):
    APPRENTICE_1 = "apprentice_1", "Apprentice, 1st year"
    APPRENTICE_2 = "apprentice_2", "Apprentice, 2nd year"
    APPRENTICE_3 = "apprentice_3", "Apprentice, 3rd year"
    APPRENTICE_4 = "apprentice_4", "Apprentice, 4th year"
    APPRENTICE_5 = "apprentice_5", "Apprentice, 5th year"
    JOURNEYMAN = "journeyman", "Journeyman"
    FOREMAN = "foreman", "Foreman"
    RETIREE = "retiree", "Retiree"
    HONORARY = "honorary", "Honorary"


# What templates/members/member_list.html shows of a member (MemberQuerySet.list_page).
LIST_COLUMNS = ("member_number", "first_name", "middle_name", "last_name", "classification", "status", "deleted_at")


class MemberQuerySet(SoftDeleteQuerySet):
    def active(self):
        return self.filter(status=MemberStatus.ACTIVE)

    def for_list(self):  # everything the list template and the export read
        current = MemberEmployment.objects.filter(is_current=True).select_related("organization")
        return self.prefetch_related(Prefetch("employments", queryset=current, to_attr="current_jobs"))

    def list_page(self, page):
        """The rows of one list page as the list's table shows them, in one query: ``page`` is the list's
        queryset, filtered, ordered and sliced; only the columns the table shows are read, and the current
        employer's id and name (``employer_id``, ``employer_name``) are joined. The page's ids are picked by
        ``page`` as a subquery, so the join reads 50 members' jobs, where joining the whole filtered list would
        make the planner join every member before it sorts. One current job per member is a database rule
        (one_current_job), so the join never repeats a member."""
        query = page.query
        ordering = query.order_by or (query.get_meta().ordering if query.default_ordering else ())
        current = FilteredRelation("employments", condition=Q(employments__is_current=True))
        return (
            self.filter(pk__in=page.values("pk"))
            .only(*LIST_COLUMNS)
            .annotate(current_job=current)
            .annotate(
                employer_id=F("current_job__organization_id"), employer_name=F("current_job__organization__name")
            )
            .order_by(*ordering)
        )


@pghistory.track(meta=event_meta("mem_member"))
class Member(SoftDeleteModel, AddressFields):
    """A person on the Local's rolls, identified by a member number that is never reused."""

    member_number = models.CharField(max_length=12)
    first_name = models.CharField(max_length=100)
    middle_name = models.CharField(max_length=100, blank=True, default="", db_default="")
    last_name = models.CharField(max_length=100)
    email = models.EmailField(blank=True, default="", db_default="")
    phone = models.CharField(max_length=30, blank=True, default="", db_default="")
    date_of_birth = models.DateField(null=True, blank=True)
    join_date = models.DateField(null=True, blank=True, help_text="Date admitted to the Local.")
    status = models.CharField(max_length=20, choices=MemberStatus, default=MemberStatus.ACTIVE)
    classification = models.CharField(max_length=20, choices=MemberClassification)
    student = models.OneToOneField(
        "training.Student",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="member",
        help_text="The pre-apprenticeship record this member came from.",
    )
    notes = models.TextField(blank=True, default="", db_default="")

    objects = LiveManager.from_queryset(MemberQuerySet)()
    all_objects = models.Manager.from_queryset(MemberQuerySet)()

    class Meta(SoftDeleteModel.Meta):
        ordering = ["last_name", "first_name", "pk"]
        indexes = [
            models.Index(Upper("last_name"), Upper("first_name"), name="member_name_upper_idx"),
            models.Index(fields=["status", "classification"], name="member_status_class_idx"),
            models.Index(
                fields=["last_name", "first_name", "id"],
                condition=Q(deleted_at__isnull=True),
                name="member_live_order_idx",
            ),
            # The list's search (MemberFilterSet.search): one index per column it matches, so the planner ORs
            # them (a bitmap) instead of reading the whole table. Prefixes (LIKE 'ABC%') need the pattern
            # operator classes whatever the database's collation.
            models.Index(fields=["member_number"], opclasses=["varchar_pattern_ops"], name="member_number_prefix_idx"),
            models.Index(OpClass(Upper("last_name"), name="text_pattern_ops"), name="member_last_name_prefix_idx"),
            models.Index(OpClass(Upper("first_name"), name="text_pattern_ops"), name="member_first_name_prefix_idx"),
            models.Index(fields=["email"], name="member_email_idx"),
            models.Index(fields=["phone"], opclasses=["varchar_pattern_ops"], name="member_phone_prefix_idx"),
        ]
        constraints = [
            UniqueOverAllRows(
                fields=["member_number"],
                name=constraint_name("member_number_unique"),
                violation_error_message="A member with this member number already exists (numbers are never reused).",
            ),
            models.CheckConstraint(
                condition=Q(member_number__regex=MEMBER_NUMBER_PATTERN),
                name=constraint_name("number_format"),
                violation_error_message=NUMBER_FORMAT_MESSAGE,
            ),
            not_blank("first_name"),
            not_blank("last_name"),
            choice_constraint("status", MemberStatus),
            choice_constraint("classification", MemberClassification),
        ]
        permissions = [
            ("convert_student", "Can convert a graduate into a member"),
            ("export_member", "Can export member lists"),
        ]

    def __str__(self):
        return f"{self.member_number} — {self.full_name}"

    def save(self, *args, **kwargs):
        self.member_number = (self.member_number or "").strip().upper()
        super().save(*args, **kwargs)

    def clean(self):
        """The [form] rules every interface shares (forms, admin, imports): join date and age."""
        self.member_number = (self.member_number or "").strip().upper()  # validated as it will be stored
        today = timezone.localdate()
        errors = {}
        if self.join_date and self.join_date > today:
            errors["join_date"] = "The join date cannot be in the future."
        if self.date_of_birth:
            age = age_on(self.date_of_birth, today)
            if age < MIN_AGE:
                errors["date_of_birth"] = f"A member must be at least {MIN_AGE} years old."
            elif age > MAX_AGE:
                errors["date_of_birth"] = f"This date of birth gives an age over {MAX_AGE}; check it."
        if errors:
            raise ValidationError(errors)

    def get_absolute_url(self):
        return f"/members/{self.pk}/"

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.middle_name, self.last_name) if part)

    @property
    def is_active(self) -> bool:
        return self.status == MemberStatus.ACTIVE

    @property
    def current_employment(self):
        """The member's current job with its employer (prefetched by for_list() as current_jobs), or None. Not
        prefetched, one statement written once per process (ip2a.rows; the add-job and status pages read it on
        every request): at most one job is current (one_current_job)."""
        if hasattr(self, "current_jobs"):
            return self.current_jobs[0] if self.current_jobs else None
        using = router.db_for_read(MemberEmployment, instance=self)
        jobs = read_owned(self, "employments", joined=("organization",), matching={"is_current": True}, using=using)
        return jobs[0] if jobs else None


class MemberEmploymentQuerySet(OwnedQuerySet):
    def current(self):
        return self.filter(is_current=True)

    def overlapping(self, start_date: date, end_date: date | None = None):
        """Jobs whose dates overlap start_date–end_date (no end date = ongoing)."""
        jobs = self.filter(Q(end_date__isnull=True) | Q(end_date__gte=start_date))
        return jobs if end_date is None else jobs.filter(start_date__lte=end_date)


@pghistory.track(meta=event_meta("mem_employment", owner="member"))
class MemberEmployment(OwnedModel):
    """One job of a member at an organization; current exactly when it has no end date."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="employments")
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="employments"
    )
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="Leave empty while the job is ongoing.")
    is_current = models.BooleanField(default=True, editable=False)
    job_title = models.CharField(max_length=100, blank=True, default="", db_default="")
    hourly_rate = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    notes = models.TextField(blank=True, default="", db_default="")

    objects = MemberEmploymentQuerySet.as_manager()

    check_overlap = True  # see clean()

    class Meta:
        ordering = ["-start_date", "-pk"]
        verbose_name = "employment"
        indexes = [
            models.Index(fields=["member", "start_date"], name="employment_member_start_idx"),
            models.Index(fields=["organization"], condition=Q(is_current=True), name="employment_org_current_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name=constraint_name("end_after_start"),
                violation_error_message="The end date cannot be before the start date.",
            ),
            models.CheckConstraint(
                condition=Q(is_current=True, end_date__isnull=True) | Q(is_current=False, end_date__isnull=False),
                name=constraint_name("current_iff_open"),
                violation_error_message="A job is current exactly when it has no end date.",
            ),
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(is_current=True),
                name=constraint_name("one_current_job"),
                violation_error_message="This member already has a current job; end it first.",
            ),
            models.CheckConstraint(
                condition=Q(hourly_rate__isnull=True) | Q(hourly_rate__gt=0),
                name=constraint_name("hourly_rate_positive"),
                violation_error_message="The hourly rate must be more than zero.",
            ),
        ]
        # A job stays with the member it was recorded for (one recorded on the wrong member is deleted and added
        # again to the right one): its history then always names its member, which the member page's kept body
        # relies on (MemberDetailView, body_record_history).
        triggers = [pgtrigger.ReadOnly(name="member_fixed", fields=["member"])]

    def __str__(self):
        end = self.end_date.isoformat() if self.end_date else "present"
        start = self.start_date.isoformat() if self.start_date else "?"
        return f"{self.job_title or 'Job'} at {self.organization} ({start} – {end})"

    def save(self, *args, **kwargs):
        self.is_current = self.end_date is None  # the one rule: current exactly when open
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "end_date" in update_fields:
            kwargs["update_fields"] = {*update_fields, "is_current"}
        super().save(*args, **kwargs)

    def clean(self):
        """The [form] rules every interface shares (forms, admin, imports): an end date not after today and no
        overlap with the member's other jobs. ``check_overlap = False`` leaves the overlap to a caller that
        first ends the current job (employment_add)."""
        self.is_current = self.end_date is None
        if self.end_date and self.end_date > timezone.localdate():
            raise ValidationError({"end_date": "The end date cannot be after today."})
        if not (self.check_overlap and self.member_id and self.start_date):
            return
        if self.end_date is not None and self.end_date < self.start_date:
            return  # the end_after_start constraint reports it
        others = MemberEmployment.objects.filter(member_id=self.member_id).exclude(pk=self.pk)
        overlap = others.overlapping(self.start_date, self.end_date).select_related("organization")
        if job := overlap.order_by("start_date", "pk").first():
            raise ValidationError(f"These dates overlap another job of this member: {job}.")

    def warnings(self) -> list[str]:
        """Notices (never refusals) shown after a save or in an import preview: an unusual hourly rate."""
        rate = self.hourly_rate
        if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
            return [f"The hourly rate ${rate} is outside the usual ${MIN_RATE}–${MAX_RATE}; please check it."]
        return []

    def validate_constraints(self, exclude=None):
        """Validate the current-job rules too: is_current is derived, never a form field, but clean() set it."""
        super().validate_constraints(exclude=set(exclude or ()) - {"is_current"})
