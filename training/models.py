import pghistory
from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower, Upper
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


class LocationType(models.TextChoices):
    TRAINING_SITE = "training_site", "Training site"
    SCHOOL = "school", "School"
    OFFICE = "office", "Office"
    JOBSITE = "jobsite", "Jobsite"
    VENDOR = "vendor", "Vendor"
    OTHER = "other", "Other"


class CohortStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ENROLLING = "enrolling", "Enrolling"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class EnrollmentStatus(models.TextChoices):
    ENROLLED = "enrolled", "Enrolled"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    DROPPED = "dropped", "Dropped"
    WITHDRAWN = "withdrawn", "Withdrawn"
    DEFERRED = "deferred", "Deferred"


OPEN_ENROLLMENT = (EnrollmentStatus.ENROLLED, EnrollmentStatus.IN_PROGRESS)
SEAT_TAKING = (EnrollmentStatus.ENROLLED, EnrollmentStatus.IN_PROGRESS, EnrollmentStatus.COMPLETED)


class AttendanceStatus(models.TextChoices):
    PRESENT = "present", "Present"
    ABSENT = "absent", "Absent"
    LATE = "late", "Late"
    EXCUSED = "excused", "Excused"
    EARLY_DEPARTURE = "early_departure", "Early departure"


class CredentialStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"
    RENEWED = "renewed", "Renewed"


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    UNDER_REVIEW = "under_review", "Under review"
    INTERVIEW_SCHEDULED = "interview_scheduled", "Interview scheduled"
    INTERVIEWED = "interviewed", "Interviewed"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    WAITLISTED = "waitlisted", "Waitlisted"
    WITHDRAWN = "withdrawn", "Withdrawn"


DECIDED_APPLICATION = (ApplicationStatus.ACCEPTED, ApplicationStatus.REJECTED, ApplicationStatus.WAITLISTED)


class RateType(models.TextChoices):
    HOURLY = "hourly", "Hourly"
    DAILY = "daily", "Daily"
    FLAT = "flat", "Flat"
    SALARY = "salary", "Salary"


def percent_range(field: str) -> models.CheckConstraint:
    label = field.replace("_", " ").capitalize()
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": 0, f"{field}__lte": 100}),
        name=constraint_name(f"{field}_range"),
        violation_error_message=f"{label} must be between 0 and 100.",
    )


def email_unique() -> models.UniqueConstraint:
    return UniqueOverAllRows(
        Lower("email"),
        name=constraint_name("email_unique"),
        violation_error_message="This email address is already in use (deleted records included).",
    )


def code_unique() -> models.UniqueConstraint:
    return UniqueOverAllRows(
        fields=["code"],
        condition=~Q(code=""),
        name=constraint_name("code_unique"),
        violation_error_message="This code is already in use (deleted records included).",
    )


def limited_to_own_cohorts(user) -> bool:
    """Whether the user sees only the training records of their own cohorts: the instructor role without a
    broader role (DOMAIN.md §5). Everyone else who may view a training model sees all of it."""
    from ip2a.roles import INSTRUCTOR, ORGANIZER, user_roles

    roles = set(user_roles(user))
    return not user.is_superuser and INSTRUCTOR in roles and roles <= {INSTRUCTOR, ORGANIZER}


def own_cohort_ids(user):
    """The ids of the live cohorts the user's live Instructor record is assigned to (a subquery)."""
    return CohortInstructor.objects.filter(
        instructor__user=user, instructor__deleted_at__isnull=True, cohort__deleted_at__isnull=True
    ).values("cohort_id")


def own_student_ids(user):
    """The ids of the students enrolled (in any status) in the user's own cohorts (a subquery)."""
    return Enrollment.objects.filter(cohort_id__in=own_cohort_ids(user)).values("student_id")


class StudentQuerySet(SoftDeleteQuerySet):
    def for_list(self):
        return self

    def visible_to(self, user):
        """All students, or for an instructor only those enrolled in their own cohorts."""
        return self.filter(pk__in=own_student_ids(user)) if limited_to_own_cohorts(user) else self


class InstructorQuerySet(SoftDeleteQuerySet):
    def visible_to(self, user):
        """All instructors, or for an instructor only those teaching in their own cohorts."""
        if not limited_to_own_cohorts(user):
            return self
        teaching = CohortInstructor.objects.filter(cohort_id__in=own_cohort_ids(user))
        return self.filter(pk__in=teaching.values("instructor_id"))


class CohortQuerySet(SoftDeleteQuerySet):
    def visible_to(self, user):
        """All cohorts, or for an instructor only their own."""
        return self.filter(pk__in=own_cohort_ids(user)) if limited_to_own_cohorts(user) else self


class CohortOwnedQuerySet(OwnedQuerySet):
    """Rows owned by a cohort (sessions, assignments)."""

    def visible_to(self, user):
        return self.filter(cohort_id__in=own_cohort_ids(user)) if limited_to_own_cohorts(user) else self


class StudentOwnedQuerySet(OwnedQuerySet):
    """Rows owned by a student (credentials, JATC applications)."""

    def visible_to(self, user):
        return self.filter(student_id__in=own_student_ids(user)) if limited_to_own_cohorts(user) else self


@pghistory.track(meta=event_meta("trn_student"))
class Student(SoftDeleteModel, AddressFields):
    """A pre-apprentice in the training program (a person record separate from Member)."""

    first_name = models.CharField(max_length=100)
    middle_name = models.CharField(max_length=100, blank=True, default="", db_default="")
    last_name = models.CharField(max_length=100)
    email = models.EmailField()
    phone = models.CharField(max_length=30, blank=True, default="", db_default="")
    date_of_birth = models.DateField(null=True, blank=True)
    emergency_contact_name = models.CharField(max_length=100, blank=True, default="", db_default="")
    emergency_contact_phone = models.CharField(max_length=30, blank=True, default="", db_default="")
    emergency_contact_relation = models.CharField(max_length=50, blank=True, default="", db_default="")
    is_veteran = models.BooleanField("veteran", default=False)
    referral_source = models.CharField(
        max_length=100, blank=True, default="", db_default="", help_text='E.g. "WorkSource".'
    )
    shirt_size = models.CharField(max_length=10, blank=True, default="", db_default="")
    shoe_size = models.CharField(max_length=10, blank=True, default="", db_default="")
    notes = models.TextField(blank=True, default="", db_default="")

    objects = LiveManager.from_queryset(StudentQuerySet)()
    all_objects = models.Manager.from_queryset(StudentQuerySet)()

    class Meta(SoftDeleteModel.Meta):
        ordering = ["last_name", "first_name", "pk"]
        indexes = [models.Index(Upper("last_name"), Upper("first_name"), name="student_name_upper_idx")]
        constraints = [not_blank("first_name"), not_blank("last_name"), not_blank("email"), email_unique()]
        permissions = [("export_student", "Can export training lists")]

    def __str__(self):
        return self.full_name

    def get_absolute_url(self):
        return f"/training/students/{self.pk}/"

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.middle_name, self.last_name) if part)

    @property
    def current_enrollment(self):
        """The latest open (enrolled or in progress) enrollment, or None."""
        return self.enrollments.filter(status__in=OPEN_ENROLLMENT).order_by("-enrolled_on", "-pk").first()

    @property
    def program_status(self) -> str:
        """The status label of the latest enrollment, or "Applicant" when there is none."""
        latest = self.enrollments.order_by("-enrolled_on", "-pk").first()
        return latest.get_status_display() if latest else "Applicant"

    @property
    def attendance_rate(self) -> float | None:
        """Share of marks that count as attended (present, late, early departure), or None without marks."""
        marks = self.attendance.aggregate(
            total=models.Count("pk"),
            attended=models.Count(
                "pk",
                filter=Q(
                    status__in=[AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.EARLY_DEPARTURE]
                ),
            ),
        )
        return marks["attended"] / marks["total"] if marks["total"] else None


@pghistory.track(meta=event_meta("trn_instructor"))
class Instructor(SoftDeleteModel):
    """A person who teaches cohorts; may be linked to the login the instructor role uses."""

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField()
    phone = models.CharField(max_length=30, blank=True, default="", db_default="")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="instructor"
    )
    bio = models.TextField(blank=True, default="", db_default="")
    certifications = models.TextField(blank=True, default="", db_default="")
    specialties = models.TextField(blank=True, default="", db_default="")
    rate_type = models.CharField(max_length=10, choices=RateType, default=RateType.HOURLY)
    rate_amount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    is_contractor_1099 = models.BooleanField("1099 contractor", default=False)
    is_active = models.BooleanField("active", default=True)

    objects = LiveManager.from_queryset(InstructorQuerySet)()
    all_objects = models.Manager.from_queryset(InstructorQuerySet)()

    class Meta(SoftDeleteModel.Meta):
        ordering = ["last_name", "first_name", "pk"]
        constraints = [
            not_blank("first_name"),
            not_blank("last_name"),
            not_blank("email"),
            email_unique(),
            choice_constraint("rate_type", RateType),
            models.CheckConstraint(
                condition=Q(rate_amount__isnull=True) | Q(rate_amount__gte=0),
                name=constraint_name("rate_amount_non_negative"),
                violation_error_message="The rate amount cannot be negative.",
            ),
        ]

    def __str__(self):
        return f"{self.first_name} {self.last_name}"

    def get_absolute_url(self):
        return f"/training/instructors/{self.pk}/"


@pghistory.track(meta=event_meta("trn_location"))
class Location(SoftDeleteModel, AddressFields):
    """A place where cohorts meet."""

    name = models.CharField(max_length=255)
    code = models.CharField(max_length=20, blank=True, default="", db_default="")
    location_type = models.CharField("type", max_length=20, choices=LocationType, default=LocationType.TRAINING_SITE)
    capacity = models.PositiveIntegerField(null=True, blank=True, help_text="Seats.")
    contact_name = models.CharField(max_length=100, blank=True, default="", db_default="")
    contact_phone = models.CharField(max_length=30, blank=True, default="", db_default="")
    contact_email = models.EmailField(blank=True, default="", db_default="")
    notes = models.TextField(blank=True, default="", db_default="")

    class Meta(SoftDeleteModel.Meta):
        ordering = ["name", "pk"]
        constraints = [not_blank("name"), code_unique(), choice_constraint("location_type", LocationType)]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return f"/training/locations/{self.pk}/"


@pghistory.track(meta=event_meta("trn_cohort"))
class Cohort(SoftDeleteModel):
    """One scheduled run of the pre-apprenticeship course."""

    name = models.CharField(max_length=100)
    code = models.CharField(max_length=30, blank=True, default="", db_default="", help_text="E.g. IP2A-2026-02.")
    description = models.TextField(blank=True, default="", db_default="")
    status = models.CharField(max_length=20, choices=CohortStatus, default=CohortStatus.PLANNED)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    max_students = models.PositiveIntegerField(null=True, blank=True)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, null=True, blank=True, related_name="cohorts")
    instructors = models.ManyToManyField(Instructor, through="CohortInstructor", related_name="cohorts")

    objects = LiveManager.from_queryset(CohortQuerySet)()
    all_objects = models.Manager.from_queryset(CohortQuerySet)()

    class Meta(SoftDeleteModel.Meta):
        ordering = ["-start_date", "pk"]
        constraints = [
            not_blank("name"),
            code_unique(),
            choice_constraint("status", CohortStatus),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name=constraint_name("end_after_start"),
                violation_error_message="The end date cannot be before the start date.",
            ),
            models.CheckConstraint(
                condition=Q(max_students__isnull=True) | Q(max_students__gte=1),
                name=constraint_name("max_students_positive"),
                violation_error_message="Maximum students must be at least 1.",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})" if self.code else self.name

    def get_absolute_url(self):
        return f"/training/cohorts/{self.pk}/"


@pghistory.track(meta=event_meta("trn_cohortinstr", owner="cohort"))
class CohortInstructor(OwnedModel):
    """An instructor's assignment to a cohort; at most one per cohort is the primary instructor."""

    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="assignments")
    instructor = models.ForeignKey(Instructor, on_delete=models.PROTECT, related_name="assignments")
    is_primary = models.BooleanField("primary instructor", default=False)

    objects = CohortOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-is_primary", "pk"]
        verbose_name = "cohort instructor"
        constraints = [
            models.UniqueConstraint(
                fields=["cohort", "instructor"],
                name=constraint_name("instructor_unique"),
                violation_error_message="This instructor is already assigned to the cohort.",
            ),
            models.UniqueConstraint(
                fields=["cohort"],
                condition=Q(is_primary=True),
                name=constraint_name("one_primary_instructor"),
                violation_error_message="This cohort already has a primary instructor.",
            ),
        ]

    def __str__(self):
        return f"{self.instructor} — {self.cohort}"


@pghistory.track(meta=event_meta("trn_session", owner="cohort"))
class ClassSession(OwnedModel):
    """One dated meeting of a cohort; attendance is taken per session."""

    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="sessions")
    date = models.DateField()
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    instructor = models.ForeignKey(
        Instructor, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions")
    topic = models.CharField(max_length=255, blank=True, default="", db_default="")
    is_cancelled = models.BooleanField("cancelled", default=False)
    notes = models.TextField(blank=True, default="", db_default="")

    objects = CohortOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["date", "start_time", "pk"]
        verbose_name = "class session"
        indexes = [models.Index(fields=["cohort", "date"], name="session_cohort_date_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_time__isnull=True) | Q(end_time__isnull=True) | Q(end_time__gt=F("start_time")),
                name=constraint_name("end_time_after_start"),
                violation_error_message="The end time must be after the start time.",
            ),
        ]

    def __str__(self):
        return f"{self.cohort} — {self.date.isoformat() if self.date else '?'}"

    def save(self, *args, **kwargs):
        if self.location_id is None and self.cohort_id is not None:
            self.location_id = self.cohort.location_id  # a session meets where its cohort meets unless told
        super().save(*args, **kwargs)


class EnrollmentQuerySet(StudentOwnedQuerySet):
    def open(self):
        return self.filter(status__in=OPEN_ENROLLMENT)

    def visible_to(self, user):
        """All enrollments, or for an instructor only those in their own cohorts (not an own student's places in
        other cohorts; the attachment rules scope enrollments the same way)."""
        return self.filter(cohort_id__in=own_cohort_ids(user)) if limited_to_own_cohorts(user) else self

    @transaction.atomic
    def delete(self):
        """Delete the enrollments with their students' marks on their cohorts' sessions (a mark needs an
        enrollment, ATD-002), and soft-delete their attachments."""
        for student_id, cohort_id in self.values_list("student_id", "cohort_id"):
            Attendance.objects.filter(student_id=student_id, session__cohort_id=cohort_id).delete()
        return super().delete()


class AttendanceQuerySet(OwnedQuerySet):
    def visible_to(self, user):
        """All marks, or for an instructor only those of their own cohorts' sessions."""
        return self.filter(session__cohort_id__in=own_cohort_ids(user)) if limited_to_own_cohorts(user) else self


@pghistory.track(meta=event_meta("trn_enrollment", owner="student"))
class Enrollment(OwnedModel):
    """A student's place in one cohort, with its own status."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="enrollments")
    cohort = models.ForeignKey(Cohort, on_delete=models.PROTECT, related_name="enrollments")
    status = models.CharField(max_length=20, choices=EnrollmentStatus, default=EnrollmentStatus.ENROLLED)
    enrolled_on = models.DateField(default=timezone.localdate)
    status_changed_on = models.DateField(default=timezone.localdate)
    completed_on = models.DateField(null=True, blank=True)
    final_grade = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    notes = models.TextField(blank=True, default="", db_default="")

    objects = EnrollmentQuerySet.as_manager()

    class Meta:
        ordering = ["-enrolled_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "cohort"],
                name=constraint_name("one_enrollment_per_cohort"),
                violation_error_message="This student is already enrolled in this cohort.",
            ),
            choice_constraint("status", EnrollmentStatus),
            models.CheckConstraint(
                condition=Q(status=EnrollmentStatus.COMPLETED, completed_on__isnull=False)
                | (~Q(status=EnrollmentStatus.COMPLETED) & Q(completed_on__isnull=True)),
                name=constraint_name("completed_on_iff_completed"),
                violation_error_message="The completion date is set exactly when the enrollment is completed.",
            ),
            models.CheckConstraint(
                condition=Q(completed_on__isnull=True) | Q(completed_on__gte=F("enrolled_on")),
                name=constraint_name("completed_after_enrolled"),
                violation_error_message="The completion date cannot be before the enrollment date.",
            ),
            percent_range("final_grade"),
        ]

    def __str__(self):
        return f"{self.student} in {self.cohort}"

    @classmethod
    def from_db(cls, db, field_names, values, **kwargs):
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._loaded_status = instance.__dict__.get("status")
        return instance

    @transaction.atomic
    def delete(self, using=None, keep_parents=False, *, reason: str = ""):
        """Delete the enrollment with the student's marks on the cohort's sessions (a mark needs an enrollment,
        ATD-002); its attachments are soft-deleted, and the reason goes to the history of both."""
        from audit.history import history_reason

        with history_reason(reason or "enrollment deleted"):
            Attendance.objects.filter(student_id=self.student_id, session__cohort_id=self.cohort_id).delete()
            return super().delete(using=using, keep_parents=keep_parents, reason=reason)

    def save(self, *args, **kwargs):
        if self.status != getattr(self, "_loaded_status", self.status):
            self.status_changed_on = timezone.localdate()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "status_changed_on"}
        super().save(*args, **kwargs)
        self._loaded_status = self.status


@pghistory.track(meta=event_meta("trn_attendance", owner="student"))
class Attendance(OwnedModel):
    """One student's mark for one class session."""

    session = models.ForeignKey(ClassSession, on_delete=models.CASCADE, related_name="attendance")
    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="attendance")
    status = models.CharField(max_length=20, choices=AttendanceStatus, default=AttendanceStatus.PRESENT)
    minutes_late = models.PositiveSmallIntegerField(null=True, blank=True)
    notes = models.CharField(max_length=255, blank=True, default="", db_default="")

    objects = AttendanceQuerySet.as_manager()

    class Meta:
        ordering = ["session", "pk"]
        verbose_name_plural = "attendance"
        constraints = [
            models.UniqueConstraint(
                fields=["student", "session"],
                name=constraint_name("one_mark_per_session"),
                violation_error_message="This student already has a mark for this session.",
            ),
            choice_constraint("status", AttendanceStatus),
            models.CheckConstraint(
                condition=Q(minutes_late__isnull=True) | Q(status=AttendanceStatus.LATE),
                name=constraint_name("minutes_late_only_when_late"),
                violation_error_message="Minutes late can only be recorded for a late mark.",
            ),
        ]
        permissions = [("take_attendance", "Can take attendance for a session")]

    def __str__(self):
        return f"{self.student} — {self.session}: {self.get_status_display()}"


@pghistory.track(meta=event_meta("trn_credential", owner="student"))
class Credential(OwnedModel):
    """A certification a student earned (OSHA 10, First Aid/CPR…), possibly with an expiry date."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="credentials")
    name = models.CharField(max_length=255)
    issuing_org = models.CharField("issuing organization", max_length=255, blank=True, default="", db_default="")
    certificate_number = models.CharField(max_length=100, blank=True, default="", db_default="")
    issue_date = models.DateField()
    expiration_date = models.DateField(null=True, blank=True, help_text="Leave empty if it does not expire.")
    status = models.CharField(max_length=20, choices=CredentialStatus, default=CredentialStatus.ACTIVE)
    replaces = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="renewals")
    notes = models.TextField(blank=True, default="", db_default="")

    objects = StudentOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-issue_date", "-pk"]
        constraints = [
            not_blank("name"),
            choice_constraint("status", CredentialStatus),
            models.CheckConstraint(
                condition=Q(expiration_date__isnull=True) | Q(expiration_date__gte=F("issue_date")),
                name=constraint_name("expiration_after_issue"),
                violation_error_message="The expiration date cannot be before the issue date.",
            ),
        ]

    def __str__(self):
        return f"{self.name} — {self.student}"

    @property
    def is_expired(self) -> bool:
        return self.expiration_date is not None and self.expiration_date < timezone.localdate()


@pghistory.track(meta=event_meta("trn_jatcapp", owner="student"))
class JATCApplication(OwnedModel):
    """A student's application to the Joint Apprenticeship Training Committee."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="jatc_applications")
    application_date = models.DateField()
    status = models.CharField(max_length=20, choices=ApplicationStatus, default=ApplicationStatus.DRAFT)
    interview_date = models.DateField(null=True, blank=True)
    decision_date = models.DateField(null=True, blank=True)
    interview_score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    aptitude_score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    trade_preference = models.CharField(
        max_length=100, blank=True, default="", db_default="", help_text="E.g. inside wireman."
    )
    notes = models.TextField(blank=True, default="", db_default="")

    objects = StudentOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-application_date", "-pk"]
        verbose_name = "JATC application"
        constraints = [
            choice_constraint("status", ApplicationStatus),
            models.CheckConstraint(
                condition=Q(interview_date__isnull=True) | Q(interview_date__gte=F("application_date")),
                name=constraint_name("interview_after_application"),
                violation_error_message="The interview date cannot be before the application date.",
            ),
            models.CheckConstraint(
                condition=Q(decision_date__isnull=True) | Q(decision_date__gte=F("application_date")),
                name=constraint_name("decision_after_application"),
                violation_error_message="The decision date cannot be before the application date.",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=DECIDED_APPLICATION) | Q(decision_date__isnull=False),
                name=constraint_name("decision_date_required"),
                violation_error_message="An accepted, rejected or waitlisted application needs a decision date.",
            ),
            percent_range("interview_score"),
            percent_range("aptitude_score"),
        ]

    def __str__(self):
        applied = self.application_date.isoformat() if self.application_date else "?"
        return f"JATC application of {self.student} ({applied})"
