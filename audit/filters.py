"""Filters of the audit pages: the history log (over several event tables) and the access log."""

import datetime as dt

import django_filters
from django import forms
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.utils import timezone
from django.utils.text import capfirst

from audit.models import AccessAction, AccessLog, AuditSource
from audit.timeline import ACTIONS, AUDIT_MODELS, DOMAIN_MODELS, record_type_name, tracked_models, view_permission
from ip2a.forms import DATE_INPUT


def start_of_day(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day`` in the configured time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def end_of_day(day: dt.date) -> dt.datetime | None:
    """Midnight at the end of ``day`` (None for the last day a date can hold: no upper bound then)."""
    return None if day == dt.date.max else start_of_day(day + dt.timedelta(days=1))


class HistoryFilterForm(forms.Form):
    date_after = forms.DateField(label="From", required=False, widget=DATE_INPUT)
    date_before = forms.DateField(label="To", required=False, widget=DATE_INPUT, help_text="Inclusive.")
    user = forms.CharField(label="User", required=False, max_length=150, help_text="Username.")
    source = forms.ChoiceField(choices=[("", "Any source"), *AuditSource.choices], required=False)
    record_type = forms.ChoiceField(required=False)
    action = forms.ChoiceField(choices=[("", "Any action"), *ACTIONS.items()], required=False)
    record_id = forms.IntegerField(label="Record id", required=False, min_value=1)
    request_id = forms.UUIDField(label="Request id", required=False, help_text="All changes made by one request.")

    def __init__(self, *args, models=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["record_type"].choices = [("", "Any record type")] + [
            (model._meta.label_lower, capfirst(record_type_name(model))) for model in models
        ]

    def clean(self):
        cleaned = super().clean()
        after, before = cleaned.get("date_after"), cleaned.get("date_before")
        if after and before and before < after:
            self.add_error("date_before", "The end date cannot be before the start date.")
        return cleaned


class HistoryFilterSet:
    """The history log's filters, shaped like a django-filter FilterSet (``form``, ``is_valid()``) but
    applied to several event tables: ``scopes()`` gives the Q for each table, ``action()`` the action."""

    labels = (*DOMAIN_MODELS, *AUDIT_MODELS)

    def __init__(self, data=None, *, user=None):
        # Only the tables whose records the user may view: the auth user's are the admin's (DOMAIN.md §5).
        self.models = [
            model for model in tracked_models(self.labels) if user is None or user.has_perm(view_permission(model))
        ]
        self.is_bound = bool(data)
        self.form = HistoryFilterForm(data or None, models=self.models)

    def is_valid(self) -> bool:
        return not self.is_bound or self.form.is_valid()

    @property
    def values(self) -> dict:
        return self.form.cleaned_data if self.is_bound and self.form.is_valid() else {}

    def action(self) -> str | None:
        return self.values.get("action") or None

    def scopes(self) -> dict:
        """{tracked model: Q on its event table} for the tables the filters leave in, every filter applied."""
        values = self.values
        condition = Q()
        if values.get("date_after"):
            condition &= Q(pgh_created_at__gte=start_of_day(values["date_after"]))
        if values.get("date_before") and (end := end_of_day(values["date_before"])):
            condition &= Q(pgh_created_at__lt=end)
        if values.get("user"):
            condition &= Q(pgh_context__username__iexact=values["user"].strip())
        if values.get("source"):
            condition &= Q(pgh_context__source=values["source"])
        if values.get("record_id"):
            condition &= Q(pgh_obj_id=values["record_id"])
        if values.get("request_id"):
            condition &= Q(pgh_context__request_id=str(values["request_id"]))
        record_type = values.get("record_type")
        return {model: condition for model in self.models if not record_type or model._meta.label_lower == record_type}


def record_type_choices(request=None):
    """Content types of the models an access-log row can be about (the tracked domain models)."""
    return ContentType.objects.filter(
        pk__in=[ContentType.objects.get_for_model(model).pk for model in tracked_models(DOMAIN_MODELS)]
    ).order_by("app_label", "model")


class AccessLogFilterSet(django_filters.FilterSet):
    user = django_filters.CharFilter(field_name="username", lookup_expr="iexact", label="User")
    action = django_filters.ChoiceFilter(choices=AccessAction.choices, empty_label="Any action")
    target_type = django_filters.ModelChoiceFilter(
        queryset=record_type_choices, label="Record type", empty_label="Any record type"
    )
    date_after = django_filters.DateFilter(label="From", widget=DATE_INPUT, method="from_day")
    date_before = django_filters.DateFilter(label="To", widget=DATE_INPUT, method="to_day", help_text="Inclusive.")

    class Meta:
        model = AccessLog
        fields = ["user", "action", "target_type", "date_after", "date_before"]

    def from_day(self, queryset, name, value):
        return queryset.filter(created_at__gte=start_of_day(value))

    def to_day(self, queryset, name, value):
        end = end_of_day(value)
        return queryset.filter(created_at__lt=end) if end else queryset
