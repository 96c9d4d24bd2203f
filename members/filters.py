import django_filters
from django import forms
from django.db.models import Q

from members.models import Member, MemberClassification, MemberStatus


class MemberOrderingFilter(django_filters.OrderingFilter):
    """Sort keys that expand to several columns, always followed by the default order (pk last), so pagination
    never repeats or skips a row."""

    columns = {"last_name": ("last_name", "first_name")}

    def filter(self, qs, value):
        ordering = []
        for param in value or ():
            if not param:
                continue
            field = self.get_ordering_value(param)
            prefix = "-" if field.startswith("-") else ""
            ordering += [f"{prefix}{column}" for column in self.columns.get(field.lstrip("-"), (field.lstrip("-"),))]
        if not ordering:
            return qs
        return qs.order_by(*ordering, *(column for column in Member._meta.ordering if column not in ordering))


class MemberFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Number, name, email or phone"}),
        help_text="Member number or name prefix, email, phone.",
    )
    status = django_filters.MultipleChoiceFilter(choices=MemberStatus.choices, widget=forms.CheckboxSelectMultiple)
    classification = django_filters.MultipleChoiceFilter(
        choices=MemberClassification.choices, widget=forms.CheckboxSelectMultiple
    )
    employer = django_filters.CharFilter(
        method="filter_employer",
        label="Current employer",
        help_text="Name prefix, or the organization's id.",
    )
    deleted = django_filters.ChoiceFilter(
        method="filter_deleted",
        label="Show",
        choices=[("only", "Deleted members")],
        empty_label="Live members",
    )
    sort = MemberOrderingFilter(
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

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        # Deleted members are listed only for those who may restore them; everyone else sees live rows only.
        user = getattr(request, "user", None)
        if user is None or not user.has_perm("members.delete_member"):
            del self.filters["deleted"]
        if "deleted" not in self.filters or (self.data or {}).get("deleted") != "only":
            self.queryset = self.queryset.filter(deleted_at__isnull=True)

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

    def filter_deleted(self, queryset, name, value):
        return queryset.filter(deleted_at__isnull=False)
