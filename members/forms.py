import re
from datetime import date, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html

from ip2a.forms import DATE_INPUT, REASON_HELP, KeptOptionsSelect, OneQueryChecksMixin, reason_field
from members.models import MEMBER_NUMBER_PATTERN, NUMBER_FORMAT_MESSAGE, Member, MemberEmployment, MemberStatus
from members.services import STATUSES_NEEDING_REASON
from organizations.models import Organization


class MemberForm(OneQueryChecksMixin, forms.ModelForm):
    class Meta:
        model = Member
        fields = [
            "member_number",
            "first_name",
            "middle_name",
            "last_name",
            "email",
            "phone",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "postal_code",
            "date_of_birth",
            "join_date",
            "status",
            "classification",
            "notes",
        ]
        widgets = {
            "date_of_birth": DATE_INPUT,
            "join_date": DATE_INPUT,
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "member_number": "5 to 10 digits, with at most one letter before or after, e.g. A1234567.",
            "state": "Two-letter code, e.g. WA.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # A status change has its own page, where its rules apply (reasons, ending the current job).
            del self.fields["status"]

    def clean_member_number(self):
        """Trim and upper-case as the model stores it; the format is checked here too so that its message
        stands beside the field (the database's number_format constraint holds it on every other path)."""
        number = self.cleaned_data["member_number"].strip().upper()
        if not re.fullmatch(MEMBER_NUMBER_PATTERN, number):
            raise ValidationError(NUMBER_FORMAT_MESSAGE)
        return number

    def clean_state(self):
        return self.cleaned_data["state"].strip().upper()


class MemberStatusForm(forms.Form):
    status = forms.ChoiceField(label="New status", choices=MemberStatus.choices)
    ended_on = forms.DateField(
        required=False, initial=timezone.localdate, widget=DATE_INPUT, label="Last day of the current job"
    )
    reason = reason_field(help_text=f"{REASON_HELP} Required for Suspended and Deceased.")

    def __init__(self, *args, member: Member, **kwargs):
        super().__init__(*args, **kwargs)
        self.member = member
        self.fields["status"].choices = [choice for choice in MemberStatus.choices if choice[0] != member.status]
        current = member.current_employment
        if current is None:
            del self.fields["ended_on"]
        else:
            since = current.start_date.isoformat()
            ended_on = self.fields["ended_on"]
            # Help text is rendered as HTML (Django's convention): the employer's name must be escaped.
            ended_on.help_text = format_html(
                "Retired and Deceased end the job at {} (since {}) that day.", current.organization, since
            )
        if member.status == MemberStatus.DECEASED:
            reason = self.fields["reason"]
            reason.help_text = f"{REASON_HELP} Required: Deceased is final unless an administrator corrects it."

    def clean(self):
        cleaned = super().clean()
        status, reason = cleaned.get("status"), cleaned.get("reason", "").strip()
        if not reason and status in STATUSES_NEEDING_REASON:
            self.add_error("reason", f"A reason is required to set the status to {MemberStatus(status).label}.")
        elif not reason and status and self.member.status == MemberStatus.DECEASED:
            self.add_error("reason", "A reason is required to change the status of a deceased member.")
        return cleaned


class EmploymentForm(OneQueryChecksMixin, forms.ModelForm):
    """A job's dates, employer, title, rate and notes; ``is_current`` follows the end date and is no field.
    The date rules (not after today, no overlap) are the model's clean(), which imports and the admin share."""

    class Meta:
        model = MemberEmployment
        fields = ["organization", "start_date", "end_date", "job_title", "hourly_rate", "notes"]
        widgets = {
            "organization": KeptOptionsSelect,  # every employer: rendered once per version of the list
            "start_date": DATE_INPUT,
            "end_date": DATE_INPUT,
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {"hourly_rate": "US dollars per hour."}

    def __init__(self, *args, member: Member | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if member is not None:
            self.instance.member = member
        self.member = self.instance.member
        # Live organizations, plus the job's own one should it have been deleted since.
        choices = Q(deleted_at__isnull=True)
        if self.instance.organization_id:
            choices |= Q(pk=self.instance.organization_id)
        self.fields["organization"].queryset = Organization.all_objects.filter(choices).order_by("name", "pk")

    def rate_warning(self) -> str:
        """A notice (never a refusal) when the hourly rate lies outside the usual range."""
        return " ".join(self.instance.warnings())


class EmploymentAddForm(EmploymentForm):
    """A new job; when the member has a current job, it offers to end that job on the day before the new one."""

    end_current = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, member: Member, **kwargs):
        super().__init__(*args, member=member, **kwargs)
        self.instance.check_overlap = False  # employment_add checks it once the current job has ended
        self.current_job = member.current_employment
        if self.current_job is None:
            del self.fields["end_current"]
            return
        when = "on the day before the new job starts"
        start = self._submitted_start()
        if start is not None:
            when = f"on {(start - timedelta(days=1)).isoformat()}, the day before the new job starts"
        field, job = self.fields["end_current"], self.current_job
        field.label = f"End the current job at {job.organization} (since {job.start_date.isoformat()}) {when}"
        field.help_text = "Unticked, a new current job is refused while this one is open; a past job leaves it as is."

    def _submitted_start(self) -> date | None:
        if not self.is_bound:
            return None
        try:
            return self.fields["start_date"].clean(self.data.get(self.add_prefix("start_date")))
        except ValidationError:
            return None

    def service_kwargs(self) -> dict:
        """The cleaned values as employment_add() takes them."""
        data = self.cleaned_data
        return {
            "member": self.member,
            "organization": data["organization"],
            "start_date": data["start_date"],
            "end_date": data.get("end_date"),
            "job_title": data.get("job_title", ""),
            "hourly_rate": data.get("hourly_rate"),
            "notes": data.get("notes", ""),
            "end_current": data.get("end_current", False),
        }


class EmploymentEndForm(forms.Form):
    end_date = forms.DateField(initial=timezone.localdate, widget=DATE_INPUT, label="Last day of the job")
    reason = reason_field()
