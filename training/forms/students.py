from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from ip2a.forms import DATE_INPUT, reason_field
from members.models import MemberClassification, MemberStatus
from training.models import (
    DECIDED_APPLICATION,
    ApplicationStatus,
    Cohort,
    CohortStatus,
    Credential,
    CredentialStatus,
    Enrollment,
    JATCApplication,
    Student,
)
from training.services.students import APPLICATION_TRANSITIONS, CREDENTIAL_TRANSITIONS

CREDENTIAL_NAMES = (
    "OSHA 10",
    "OSHA 30",
    "First Aid/CPR",
    "Forklift",
    "Aerial Lift",
    "Confined Space",
    "Flagger",
    "NFPA 70E",
    "Fall Protection",
)


class DatalistInput(forms.TextInput):
    """A text box with suggestions (an HTML datalist): any value is allowed."""

    template_name = "training/credential_name_widget.html"

    def __init__(self, suggestions, attrs=None):
        super().__init__(attrs)
        self.suggestions = suggestions

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        list_id = f"{context['widget']['attrs'].get('id', name)}-suggestions"
        context["widget"]["attrs"]["list"] = list_id
        context["widget"]["list_id"] = list_id
        context["widget"]["suggestions"] = self.suggestions
        return context


class StudentForm(forms.ModelForm):
    class Meta:
        model = Student
        fields = [
            "first_name",
            "middle_name",
            "last_name",
            "email",
            "phone",
            "date_of_birth",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "postal_code",
            "emergency_contact_name",
            "emergency_contact_phone",
            "emergency_contact_relation",
            "is_veteran",
            "referral_source",
            "shirt_size",
            "shoe_size",
            "notes",
        ]
        widgets = {"date_of_birth": DATE_INPUT, "notes": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"state": "Two-letter code, e.g. WA."}

    def clean_state(self):
        return self.cleaned_data["state"].strip().upper()

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class EnrollmentCreateForm(forms.Form):
    cohort = forms.ModelChoiceField(queryset=Cohort.objects.none())
    enrolled_on = forms.DateField(initial=timezone.localdate, widget=DATE_INPUT, label="Enrolled on")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    reason = reason_field(required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Cohorts that take enrollments, and that the user may see.
        self.fields["cohort"].queryset = (
            Cohort.objects.visible_to(user)
            .exclude(status__in=[CohortStatus.CANCELLED, CohortStatus.COMPLETED])
            .order_by("start_date", "pk")
        )


class EnrollmentForm(forms.ModelForm):
    """The grade and notes of an enrollment; its status changes on its own pages."""

    class Meta:
        model = Enrollment
        fields = ["final_grade", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"final_grade": "0 to 100."}


class EnrollmentStatusForm(forms.Form):
    """A confirmation of one status change, with its reason (required for drop, withdraw and defer)."""

    reason = reason_field(required=True)

    def __init__(self, *args, reason_required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"] = reason_field(required=reason_required)


class EnrollmentCompleteForm(EnrollmentStatusForm):
    completed_on = forms.DateField(initial=timezone.localdate, widget=DATE_INPUT, label="Completed on")
    final_grade = forms.DecimalField(
        required=False, max_digits=5, decimal_places=2, min_value=0, max_value=100, help_text="0 to 100. Optional."
    )
    field_order = ["completed_on", "final_grade", "reason"]

    def clean_completed_on(self):
        completed_on = self.cleaned_data["completed_on"]
        if completed_on > timezone.localdate():
            raise ValidationError("The completion date cannot be in the future.")
        return completed_on


class CredentialForm(forms.ModelForm):
    """A credential's facts; a new one starts pending or active, an existing one may take the status changes of
    DOMAIN.md §3 except renewal, which has its own page."""

    class Meta:
        model = Credential
        fields = ["name", "issuing_org", "certificate_number", "issue_date", "expiration_date", "status", "notes"]
        widgets = {
            "name": DatalistInput(CREDENTIAL_NAMES),
            "issue_date": DATE_INPUT,
            "expiration_date": DATE_INPUT,
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, student: Student | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if student is not None:
            self.instance.student = student
        current = self.instance.status if self.instance.pk else None
        if current is None:
            allowed = [CredentialStatus.PENDING, CredentialStatus.ACTIVE]
        else:
            allowed = [current, *CREDENTIAL_TRANSITIONS.get(current, ())]
        self.fields["status"].choices = [choice for choice in CredentialStatus.choices if choice[0] in allowed]
        if len(allowed) == 1:
            self.fields["status"].disabled = True
            self.fields["status"].help_text = "Final: a credential in this status does not change any more."


class CredentialRenewForm(forms.Form):
    issue_date = forms.DateField(initial=timezone.localdate, widget=DATE_INPUT, label="Issued on")
    expiration_date = forms.DateField(
        required=False, widget=DATE_INPUT, label="Expires on", help_text="Leave empty if it does not expire."
    )
    certificate_number = forms.CharField(max_length=100, required=False)
    reason = reason_field(required=False)


class JATCApplicationForm(forms.ModelForm):
    """An application's facts; its status changes on the advance page."""

    class Meta:
        model = JATCApplication
        fields = [
            "application_date",
            "trade_preference",
            "interview_date",
            "interview_score",
            "aptitude_score",
            "decision_date",
            "notes",
        ]
        widgets = {
            "application_date": DATE_INPUT,
            "interview_date": DATE_INPUT,
            "decision_date": DATE_INPUT,
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {"interview_score": "0 to 100.", "aptitude_score": "0 to 100."}

    def __init__(self, *args, student: Student | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if student is not None:
            self.instance.student = student
        if not self.instance.pk:
            self.fields["application_date"].initial = timezone.localdate
            for name in ("interview_date", "interview_score", "decision_date"):
                del self.fields[name]  # a new application is a draft


class JATCApplicationAdvanceForm(forms.Form):
    status = forms.ChoiceField(label="New status")
    interview_date = forms.DateField(required=False, widget=DATE_INPUT, help_text="Required to schedule an interview.")
    decision_date = forms.DateField(
        required=False,
        initial=timezone.localdate,
        widget=DATE_INPUT,
        help_text="Required for accepted, rejected and waitlisted.",
    )
    reason = reason_field(required=False)

    def __init__(self, *args, application: JATCApplication, override: bool = False, **kwargs):
        """The statuses DOMAIN.md §3 allows next; with ``override`` (administrators) every other status too,
        which the service accepts only with a reason."""
        super().__init__(*args, **kwargs)
        allowed = APPLICATION_TRANSITIONS.get(application.status, ())
        if override:
            allowed = [value for value in ApplicationStatus.values if value != application.status]
            self.fields["reason"].help_text = "Kept in the history. Required outside the normal order."
        self.fields["status"].choices = [choice for choice in ApplicationStatus.choices if choice[0] in allowed]
        self.fields["interview_date"].initial = application.interview_date
        if not {ApplicationStatus.INTERVIEW_SCHEDULED, ApplicationStatus.INTERVIEWED} & set(allowed):
            del self.fields["interview_date"]
        if not set(DECIDED_APPLICATION) & set(allowed):
            del self.fields["decision_date"]

    def clean(self):
        cleaned = super().clean()
        status = cleaned.get("status")
        if status in DECIDED_APPLICATION and not cleaned.get("decision_date"):
            self.add_error("decision_date", "A decision needs its date.")
        if status == ApplicationStatus.INTERVIEW_SCHEDULED and not cleaned.get("interview_date"):
            self.add_error("interview_date", "Scheduling an interview needs its date.")
        return cleaned


class StudentConvertForm(forms.Form):
    member_number = forms.CharField(
        max_length=12, help_text="5 to 10 digits, with at most one letter before or after, e.g. A1234567."
    )
    classification = forms.ChoiceField(choices=MemberClassification.choices, initial=MemberClassification.APPRENTICE_1)
    join_date = forms.DateField(initial=timezone.localdate, widget=DATE_INPUT, label="Join date")
    status = forms.ChoiceField(choices=MemberStatus.choices, initial=MemberStatus.ACTIVE)

    def clean_member_number(self):
        return self.cleaned_data["member_number"].strip().upper()
