from django import forms

from ip2a.forms import OneQueryChecksMixin
from organizations.models import Organization, OrganizationContact
from organizations.resources import ADDRESS, SALTING_FIELDS

SALTING_PERMISSION = "organizations.change_salting"


class OrganizationForm(OneQueryChecksMixin, forms.ModelForm):
    """An organization's details; the salting fields only for users holding the salting permission (for anyone
    else they are left out, so posted salting values are ignored)."""

    class Meta:
        model = Organization
        fields = ["name", "org_type", *ADDRESS, "phone", "email", "website", *SALTING_FIELDS, "notes"]
        widgets = {"salting_notes": forms.Textarea(attrs={"rows": 3}), "notes": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"salting_score": "Employers only."}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is None or not user.has_perm(SALTING_PERMISSION):
            for name in SALTING_FIELDS:
                del self.fields[name]

    def clean_state(self):
        return self.cleaned_data["state"].strip().upper()


class OrganizationSaltingForm(OneQueryChecksMixin, forms.ModelForm):
    class Meta:
        model = Organization
        fields = list(SALTING_FIELDS)
        widgets = {"salting_notes": forms.Textarea(attrs={"rows": 5})}
        help_texts = {"salting_score": "The employer's receptiveness to organizing. Employers only."}


class OrganizationContactForm(OneQueryChecksMixin, forms.ModelForm):
    class Meta:
        model = OrganizationContact
        fields = ["first_name", "last_name", "title", "phone", "email", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}


class OrganizationContactCreateForm(OrganizationContactForm):
    class Meta(OrganizationContactForm.Meta):
        fields = [*OrganizationContactForm.Meta.fields, "is_primary"]
        labels = {"is_primary": "Make this the primary contact"}
        help_texts = {
            "is_primary": "The current primary contact is then demoted. "
            "An organization's first contact always becomes primary."
        }
