from datetime import timedelta

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ip2a.filters import DeletedFilterSet, SortFilter, YesNoFilter
from training.models import (
    ApplicationStatus,
    Cohort,
    Credential,
    Enrollment,
    EnrollmentStatus,
    JATCApplication,
    Student,
)

APPLICANT = "applicant"
EXPIRY_WINDOWS = [(30, "30 days"), (60, "60 days"), (90, "90 days")]
DEFAULT_EXPIRY_WINDOW = 30


def name_search(prefix: str, value: str) -> Q:
    """A person's first or last name prefix, or "first last" / "last, first"."""
    match = Q(**{f"{prefix}last_name__istartswith": value}) | Q(**{f"{prefix}first_name__istartswith": value})
    words = value.replace(",", " ").split()
    if len(words) == 2:
        first, second = words
        match |= Q(**{f"{prefix}first_name__istartswith": first, f"{prefix}last_name__istartswith": second})
        match |= Q(**{f"{prefix}last_name__istartswith": first, f"{prefix}first_name__istartswith": second})
    return match


def visible_cohorts(request):
    user = getattr(request, "user", None)
    cohorts = Cohort.objects.order_by("-start_date", "pk")
    return cohorts.visible_to(user) if user is not None else cohorts.none()


class StudentFilterSet(DeletedFilterSet):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, email or phone"}),
        help_text="Name prefix, email, phone.",
    )
    cohort = django_filters.ModelChoiceFilter(queryset=visible_cohorts, method="filter_cohort", label="Cohort")
    enrollment_status = django_filters.MultipleChoiceFilter(
        choices=[*EnrollmentStatus.choices, (APPLICANT, "Applicant (no enrollment)")],
        method="filter_enrollment_status",
        label="Enrollment status",
        help_text="With a cohort: the status in that cohort.",
        widget=forms.CheckboxSelectMultiple,
    )
    veteran = YesNoFilter(field_name="is_veteran", label="Veteran")
    sort = SortFilter(
        fields=[("last_name", "name"), ("email", "email"), ("created_at", "added")],
        columns={"last_name": ("last_name", "first_name")},
        field_labels={"last_name": "Name", "created_at": "Date added"},
        label="Sort by",
        empty_label="Name (default)",
    )

    class Meta:
        model = Student
        fields = []

    def search(self, queryset, name, value):
        value = value.strip()
        match = name_search("", value) | Q(email=value.lower()) | Q(phone__startswith=value)
        return queryset.filter(match)

    def filter_cohort(self, queryset, name, value):
        return queryset.filter(Exists(Enrollment.objects.filter(student=OuterRef("pk"), cohort=value)))

    def filter_enrollment_status(self, queryset, name, value):
        # With a cohort chosen, the status is that of the enrollment in that cohort.
        enrollments = Enrollment.objects.filter(student=OuterRef("pk"))
        if cohort := self.form.cleaned_data.get("cohort"):
            enrollments = enrollments.filter(cohort=cohort)
        statuses = [status for status in value if status != APPLICANT]
        match = Q(Exists(enrollments.filter(status__in=statuses))) if statuses else Q()
        if APPLICANT in value:
            applicant = ~Exists(Enrollment.objects.filter(student=OuterRef("pk")))
            match = match | Q(applicant) if statuses else Q(applicant)
        return queryset.filter(match)


class CredentialFilterSet(django_filters.FilterSet):
    """Active credentials expiring within the chosen window (30 days unless told), soonest first."""

    days = django_filters.ChoiceFilter(
        choices=EXPIRY_WINDOWS, method="filter_window", label="Expiring within", empty_label=None
    )
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Student or credential"}),
        help_text="Student name prefix or credential name.",
    )

    class Meta:
        model = Credential
        fields = []

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        # Always bound, so the default window applies to a page opened without parameters.
        super().__init__(data if data is not None else {}, queryset, request=request, prefix=prefix)

    def filter_window(self, queryset, name, value):
        return queryset  # applied in filter_queryset, so the default window applies without the parameter too

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        days = int(self.form.cleaned_data.get("days") or DEFAULT_EXPIRY_WINDOW)
        today = timezone.localdate()
        return queryset.filter(expiration_date__gte=today, expiration_date__lte=today + timedelta(days=days)).order_by(
            "expiration_date", "student__last_name", "student__first_name", "pk"
        )

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(name_search("student__", value) | Q(name__istartswith=value))


class JATCApplicationFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Student name"}),
        help_text="Student name prefix.",
    )
    # The application's own column: no join can repeat a row, so no DISTINCT (django-filter's default here).
    status = django_filters.MultipleChoiceFilter(
        choices=ApplicationStatus.choices, widget=forms.CheckboxSelectMultiple, distinct=False
    )
    sort = SortFilter(
        fields=[("application_date", "applied"), ("student__last_name", "student"), ("status", "status")],
        columns={"student__last_name": ("student__last_name", "student__first_name")},
        field_labels={"application_date": "Application date", "student__last_name": "Student"},
        label="Sort by",
        empty_label="Newest first (default)",
    )

    class Meta:
        model = JATCApplication
        fields = []

    def search(self, queryset, name, value):
        return queryset.filter(name_search("student__", value.strip()))
