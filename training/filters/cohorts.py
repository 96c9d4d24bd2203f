import django_filters
from django import forms
from django.db.models import Q

from ip2a.forms import AnyYesNoSelect
from organizations.filters import StableOrderingFilter
from training.models import Cohort, CohortStatus, Instructor, Location, LocationType, RateType


class DeletedFilterSet(django_filters.FilterSet):
    """Lists live rows; holders of the model's delete permission may ask for the deleted ones (to restore)."""

    deleted = django_filters.ChoiceFilter(
        method="filter_deleted", label="Show", choices=[("only", "Deleted records")], empty_label="Live records"
    )

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        user = getattr(request, "user", None)
        meta = self._meta.model._meta
        if user is None or not user.has_perm(f"{meta.app_label}.delete_{meta.model_name}"):
            del self.filters["deleted"]
        if "deleted" not in self.filters or (self.data or {}).get("deleted") != "only":
            self.queryset = self.queryset.filter(deleted_at__isnull=True)

    def filter_deleted(self, queryset, name, value):
        return queryset.filter(deleted_at__isnull=False)


class CohortFilterSet(DeletedFilterSet):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or code"}),
    )
    status = django_filters.MultipleChoiceFilter(choices=CohortStatus.choices, widget=forms.CheckboxSelectMultiple)
    location = django_filters.ModelChoiceFilter(queryset=Location.objects.only("pk", "name"))
    sort = StableOrderingFilter(
        fields=[
            ("name", "name"),
            ("code", "code"),
            ("status", "status"),
            ("start_date", "start"),
            ("location__name", "location"),
        ],
        field_labels={"start_date": "Start date"},
        then=("-start_date", "pk"),
        label="Sort by",
        empty_label="Newest first (default)",
    )

    class Meta:
        model = Cohort
        fields = []

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(name__icontains=value) | Q(code__icontains=value))


class InstructorFilterSet(DeletedFilterSet):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or email"}),
    )
    is_active = django_filters.BooleanFilter(label="Active", widget=AnyYesNoSelect)
    rate_type = django_filters.ChoiceFilter(choices=RateType.choices, label="Rate type")
    sort = StableOrderingFilter(
        fields=[("last_name", "name"), ("email", "email")],
        field_labels={"last_name": "Name"},
        then=("last_name", "first_name", "pk"),
        label="Sort by",
        empty_label="Name (default)",
    )

    class Meta:
        model = Instructor
        fields = []

    def search(self, queryset, name, value):
        # Every word must match a name or the email: "ana ruiz" finds Ana Ruiz.
        for word in value.split():
            queryset = queryset.filter(
                Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word)
            )
        return queryset


class LocationFilterSet(DeletedFilterSet):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, code or city"}),
    )
    location_type = django_filters.ChoiceFilter(choices=LocationType.choices, label="Type")
    sort = StableOrderingFilter(
        fields=[("name", "name"), ("code", "code"), ("city", "city")],
        then=("name", "pk"),
        label="Sort by",
        empty_label="Name (default)",
    )

    class Meta:
        model = Location
        fields = []

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(name__icontains=value) | Q(code__icontains=value) | Q(city__icontains=value))
