import django_filters
from django import forms
from django.db.models import Q

from ip2a.filters import DeletedFilterSet, SortFilter
from members.models import Member, MemberClassification, MemberStatus


class MemberFilterSet(DeletedFilterSet):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Number, name, email or phone"}),
        help_text="Member number or name prefix, email, phone.",
    )
    # The member's own columns: no join can repeat a row, so no DISTINCT (django-filter's default for this
    # filter), which made every query of the list SELECT DISTINCT over all columns and its count a subquery.
    status = django_filters.MultipleChoiceFilter(
        choices=MemberStatus.choices, widget=forms.CheckboxSelectMultiple, distinct=False
    )
    classification = django_filters.MultipleChoiceFilter(
        choices=MemberClassification.choices, widget=forms.CheckboxSelectMultiple, distinct=False
    )
    employer = django_filters.CharFilter(
        method="filter_employer",
        label="Current employer",
        help_text="Name prefix, or the organization's id.",
    )
    sort = SortFilter(
        columns={"last_name": ("last_name", "first_name")},
        fields=[
            ("member_number", "number"),
            ("last_name", "name"),
            ("classification", "classification"),
            ("status", "status"),
        ],
        field_labels={"member_number": "Number", "last_name": "Name"},
        label="Sort by",
        empty_label="Name (default)",
    )

    class Meta:
        model = Member
        fields = []

    def search(self, queryset, name, value):
        match = (
            Q(member_number__startswith=value.upper())
            | Q(last_name__istartswith=value)
            | Q(first_name__istartswith=value)
            | Q(email=value.lower())
            | Q(phone__startswith=value)
        )
        words = value.replace(",", " ").split()
        if len(words) == 2:  # "Ana Ruiz" or "Ruiz, Ana"
            first, second = words
            match |= Q(first_name__istartswith=first, last_name__istartswith=second)
            match |= Q(last_name__istartswith=first, first_name__istartswith=second)
        return queryset.filter(match)

    def filter_employer(self, queryset, name, value):
        # One current job per member (a database rule), so the join never repeats a member.
        if value.isdigit() and len(value) <= 18:  # an id (a bigint); longer digit strings are names
            return queryset.filter(employments__is_current=True, employments__organization_id=int(value))
        return queryset.filter(employments__is_current=True, employments__organization__name__istartswith=value)
