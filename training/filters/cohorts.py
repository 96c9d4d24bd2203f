import django_filters
from django import forms
from django.db.models import Q

from ip2a.filters import DeletedFilterSet, SortFilter, YesNoFilter
from training.models import Cohort, CohortStatus, Instructor, Location, LocationType, RateType


class CohortFilterSet(DeletedFilterSet):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or code"}),
    )
    # The cohort's own column: no join can repeat a row, so no DISTINCT (django-filter's default here).
    status = django_filters.MultipleChoiceFilter(
        choices=CohortStatus.choices, widget=forms.CheckboxSelectMultiple, distinct=False
    )
    location = django_filters.ModelChoiceFilter(queryset=Location.objects.only("pk", "name"))
    sort = SortFilter(
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
    is_active = YesNoFilter(label="Active")
    rate_type = django_filters.ChoiceFilter(choices=RateType.choices, label="Rate type")
    sort = SortFilter(
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
    sort = SortFilter(
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
