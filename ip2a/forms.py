"""Form machinery shared by every app: the reason field history asks for, and database errors as form errors."""

from django import forms
from django.apps import apps
from django.db import IntegrityError

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
