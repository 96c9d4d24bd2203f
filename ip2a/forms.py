"""Form machinery shared by every app: the reason field history asks for, and database errors as form errors."""

from django import forms
from django.apps import apps
from django.db import IntegrityError

GENERIC_CONFLICT = "This change conflicts with data already stored; nothing was saved."


class ReasonForm(forms.Form):
    """The reason DOMAIN.md §6 requires for deleting, restoring and some status changes (kept in the history)."""

    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 2}), help_text="Kept in the record's history."
    )


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
