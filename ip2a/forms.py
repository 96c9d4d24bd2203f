"""Form machinery shared by every app: the reason field history asks for, database errors as form errors, and
the select widget for long lists of records."""

import contextlib
from collections import OrderedDict

from django import forms
from django.apps import apps
from django.core.exceptions import EmptyResultSet
from django.db import IntegrityError
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from ip2a.caching import epoch, query_versions

GENERIC_CONFLICT = "This change conflicts with data already stored; nothing was saved."
REASON_HELP = "Kept in the record's history."
DATE_INPUT = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})  # the browser's date picker, ISO value


def reason_field(*, required: bool = False, help_text: str | None = None, label: str = "Reason") -> forms.CharField:
    """The reason field of every form that changes records: it lands in the history context (DOMAIN.md §6)."""
    return forms.CharField(
        max_length=500,
        required=required,
        label=label,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=help_text or REASON_HELP + ("" if required else " Optional."),
    )


class ReasonForm(forms.Form):
    """The reason DOMAIN.md §6 requires for deleting, restoring and some status changes (kept in the history)."""

    reason = reason_field(required=True, help_text=REASON_HELP)


def constraint_message(name: str) -> str | None:
    """The violation message a model declares for the database constraint ``name``, if any."""
    for model in apps.get_models():
        for constraint in model._meta.constraints:
            full = constraint.name % {"app_label": model._meta.app_label, "class": model._meta.model_name}
            if full == name:
                return str(constraint.violation_error_message)
    return None


def integrity_error_message(exc: IntegrityError) -> str:
    """A human sentence for a constraint the database refused (the model's message when it declares one)."""
    diag = getattr(exc.__cause__, "diag", None)
    name = getattr(diag, "constraint_name", None)
    return (name and constraint_message(name)) or GENERIC_CONFLICT


class AnyYesNoSelect(forms.Select):
    """The widget of a yes/no list filter: "Any" (not filtered), "Yes" or "No" (Django's says "Unknown")."""

    def __init__(self, attrs=None):
        super().__init__(attrs, choices=[("", "Any"), ("true", "Yes"), ("false", "No")])


OPTIONS_KEPT = 200  # option lists kept per process (KeptOptionsSelect)
_kept_options: OrderedDict = OrderedDict()


class KeptOptionsSelect(forms.Select):
    """The <select> of a model choice field with many rows (the employers of a job form), whose <option> list is
    rendered once per query, label function and data version of the tables it reads (ip2a.caching), per
    process, then reused with the chosen value marked. Django renders every option through two templates: 600
    employers cost ~30 ms of each form page. Multiple selects, choices that are not a query, and queries that
    read a table without history render as Django renders them."""

    def render(self, name, value, attrs=None, renderer=None):
        field = getattr(self.choices, "field", None)
        queryset = getattr(self.choices, "queryset", None)
        if self.allow_multiple_selected or field is None or queryset is None:
            return super().render(name, value, attrs, renderer)
        try:
            versions = query_versions(queryset)
            sql, params = queryset.query.sql_with_params()
        except EmptyResultSet:
            versions = None
        if versions is None:
            return super().render(name, value, attrs, renderer)
        label = getattr(field.label_from_instance, "__qualname__", repr(field.label_from_instance))
        versions_key = tuple(sorted(versions.items()))
        key = (sql, tuple(map(repr, params)), versions_key, epoch(), field.empty_label, field.to_field_name, label)
        options = _kept_options.get(key)
        if options is None:
            options = [
                (
                    str(choice),
                    format_html('<option value="{}">{}</option>', str(choice), text),
                    format_html('<option value="{}" selected>{}</option>', str(choice), text),
                )
                for choice, text in self.choices
            ]
            _kept_options[key] = options
            if len(_kept_options) > OPTIONS_KEPT:
                with contextlib.suppress(KeyError):  # another thread may have emptied it meanwhile
                    _kept_options.popitem(last=False)
        chosen = set(self.format_value(value))
        body = "\n  ".join(selected if choice in chosen else plain for choice, plain, selected in options)
        attributes = mark_safe(
            "".join(  # as django/forms/widgets/attrs.html writes them, in their order
                format_html(" {}", key) if item is True else format_html(' {}="{}"', key, item)
                for key, item in self.build_attrs(self.attrs, attrs).items()
                if item is not False
            )
        )
        return format_html('<select name="{}"{}>\n  {}\n</select>', name, attributes, mark_safe(body))
