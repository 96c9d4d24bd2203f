import django_filters
from django import forms
from django.db.models import Q

from ip2a.filters import SortFilter
from organizations.models import Organization, OrganizationContact, OrganizationType, SaltingScore


class OrganizationFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search", widget=forms.SearchInput)
    org_type = django_filters.ChoiceFilter(choices=OrganizationType.choices, label="Type")
    salting_score = django_filters.ChoiceFilter(choices=SaltingScore.choices, label="Salting score")
    sort = SortFilter(
        fields=[("name", "name"), ("org_type", "org_type")],
        field_labels={"name": "Name", "org_type": "Type"},
        then=("name", "pk"),
        label="Sort by",
    )

    class Meta:
        model = Organization
        fields = ["org_type", "salting_score"]

    def search(self, queryset, name, value):
        return queryset.filter(name__icontains=value.strip())


class OrganizationContactFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search", widget=forms.SearchInput)
    organization = django_filters.ModelChoiceFilter(queryset=Organization.objects.only("pk", "name"))
    primary = django_filters.BooleanFilter(
        method="primary_only", widget=forms.CheckboxInput, label="Primary contacts only"
    )
    sort = SortFilter(
        fields=[("last_name", "name"), ("organization__name", "organization")],
        field_labels={"name": "Name", "organization": "Organization"},
        then=("last_name", "first_name", "pk"),
        label="Sort by",
    )

    class Meta:
        model = OrganizationContact
        fields = ["organization"]

    def search(self, queryset, name, value):
        # Every word must match a name, the email or the phone: "ana ruiz" finds Ana Ruiz.
        for word in value.split():
            queryset = queryset.filter(
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(email__icontains=word)
                | Q(phone__icontains=word)
            )
        return queryset

    def primary_only(self, queryset, name, value):
        return queryset.filter(is_primary=True) if value else queryset
