from django import forms
from django.db.models import Q

from ip2a.forms import DATE_INPUT, reason_field
from training.models import (
    SEAT_TAKING,
    AttendanceStatus,
    ClassSession,
    Cohort,
    CohortInstructor,
    CohortStatus,
    Enrollment,
    Instructor,
    Location,
)
from training.services.cohorts import NEXT_COHORT_STATUS

TIME_INPUT = forms.TimeInput(format="%H:%M", attrs={"type": "time"})


def live_or_current(model, current_id):
    """Live rows, plus the one already chosen even if it was deleted since (so an edit does not fail on it)."""
    return model.all_objects.filter(Q(deleted_at__isnull=True) | Q(pk=current_id))


class CohortForm(forms.ModelForm):
    """A cohort's details; the status changes on its own page, where its rules apply."""

    class Meta:
        model = Cohort
        fields = ["name", "code", "description", "start_date", "end_date", "max_students", "location"]
        widgets = {
            "start_date": DATE_INPUT,
            "end_date": DATE_INPUT,
            "description": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"max_students": "Capacity (students)"}
        help_texts = {"max_students": "Enrolled, in-progress and completed students take a seat."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = live_or_current(Location, self.instance.location_id)

    def clean_max_students(self):
        max_students = self.cleaned_data["max_students"]
        self.check_capacity(max_students)
        return max_students

    def check_capacity(self, max_students) -> None:
        """Refuse a capacity below the seats already taken (the view checks again with the cohort row locked)."""
        if self.instance.pk and max_students is not None:
            taken = Enrollment.objects.filter(
                cohort=self.instance, status__in=SEAT_TAKING, student__deleted_at__isnull=True
            ).count()
            if max_students < taken:
                raise forms.ValidationError(f"{taken} students already hold a seat; the capacity cannot be lower.")


class CohortStatusForm(forms.Form):
    status = forms.ChoiceField(label="New status")
    reason = reason_field()

    def __init__(self, *args, cohort: Cohort, override: bool = False, **kwargs):
        """The next status only; with ``override`` (administrators) every status but the current one and
        Cancelled (which has its own page), and the reason becomes required for anything but the next step."""
        super().__init__(*args, **kwargs)
        following = NEXT_COHORT_STATUS.get(CohortStatus(cohort.status))
        if override:
            self.fields["status"].choices = [
                (value, label) for value, label in CohortStatus.choices if value not in (cohort.status, "cancelled")
            ]
            self.fields[
                "reason"
            ].help_text = "Kept in the record's history. Required for any change but the next step."
        else:
            self.fields["status"].choices = [(following.value, following.label)] if following else []
        if following:
            self.fields["status"].initial = following.value


class CohortInstructorForm(forms.ModelForm):
    """Assign an instructor to a cohort: live, active instructors not yet assigned to it."""

    class Meta:
        model = CohortInstructor
        fields = ["instructor", "is_primary"]
        labels = {"is_primary": "Make this the primary instructor"}
        help_texts = {"is_primary": "The current primary instructor is then demoted."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["instructor"].queryset = Instructor.objects.filter(is_active=True).exclude(
            assignments__cohort_id=self.instance.cohort_id
        )
        self.fields["instructor"].error_messages["invalid_choice"] = (
            "Choose an active instructor who is not yet assigned to this cohort."
        )
        if not CohortInstructor.objects.filter(cohort_id=self.instance.cohort_id, is_primary=True).exists():
            self.initial["is_primary"] = True  # a cohort without a primary instructor gets this one


class ClassSessionForm(forms.ModelForm):
    """A session of the cohort given as the instance's cohort: on a day within the cohort's dates, taught by an
    instructor assigned to the cohort; the location defaults to the cohort's."""

    class Meta:
        model = ClassSession
        fields = ["date", "start_time", "end_time", "instructor", "location", "topic", "is_cancelled", "notes"]
        widgets = {
            "date": DATE_INPUT,
            "start_time": TIME_INPUT,
            "end_time": TIME_INPUT,
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "location": "Leave empty to meet at the cohort's location.",
            "is_cancelled": "A cancelled session takes no attendance.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cohort = self.instance.cohort
        self.cohort = cohort
        instructor = self.fields["instructor"]
        instructor.queryset = Instructor.all_objects.filter(
            Q(deleted_at__isnull=True, assignments__cohort=cohort) | Q(pk=self.instance.instructor_id)
        ).distinct()
        instructor.error_messages["invalid_choice"] = "Choose an instructor assigned to this cohort."
        instructor.help_text = "Only instructors assigned to the cohort."
        self.fields["location"].queryset = live_or_current(Location, self.instance.location_id)
        if not self.instance.pk:
            self.initial["location"] = cohort.location_id  # the instance's empty location would win otherwise
        end = cohort.end_date.isoformat() if cohort.end_date else "open end"
        self.fields["date"].help_text = f"Within the cohort's dates: {cohort.start_date.isoformat()} – {end}."

    def clean(self):
        cleaned = super().clean()
        # A cancelled cohort keeps the sessions it had (their attendance is history) but is never scheduled again.
        if self.instance.pk is None and self.cohort.status == CohortStatus.CANCELLED:
            raise forms.ValidationError("This cohort is cancelled: it takes no new sessions.")
        return cleaned

    def clean_date(self):
        date = self.cleaned_data["date"]
        cohort = self.cohort
        if date < cohort.start_date or (cohort.end_date and date > cohort.end_date):
            end = cohort.end_date.isoformat() if cohort.end_date else "no end date"
            raise forms.ValidationError(
                f"The date must be within the cohort's dates ({cohort.start_date.isoformat()} – {end})."
            )
        return date

    def clean_instructor(self):
        instructor = self.cleaned_data["instructor"]
        if (
            instructor is not None
            and not CohortInstructor.objects.filter(cohort=self.cohort, instructor=instructor).exists()
        ):
            raise forms.ValidationError("Choose an instructor assigned to this cohort.")
        return instructor


class AttendanceSheetForm(forms.Form):
    """One session's attendance sheet: for each listed student a status, minutes late (late marks only) and
    notes. ``enrollments`` are the rows to list (with their students); ``marks`` the session's existing marks by
    student id, which fill the initial values."""

    def __init__(self, *args, enrollments, marks: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.enrollments = list(enrollments)
        for enrollment in self.enrollments:
            student = enrollment.student
            mark = marks.get(student.pk)
            name = student.full_name
            self.fields[f"status_{student.pk}"] = forms.ChoiceField(
                label=f"Status of {name}",
                choices=AttendanceStatus.choices,
                initial=mark.status if mark else AttendanceStatus.PRESENT,
            )
            self.fields[f"minutes_late_{student.pk}"] = forms.IntegerField(
                label=f"Minutes late for {name}",
                required=False,
                min_value=1,
                max_value=32767,
                initial=mark.minutes_late if mark else None,
                widget=forms.NumberInput(attrs={"size": 4, "class": "minutes-late"}),
            )
            self.fields[f"notes_{student.pk}"] = forms.CharField(
                label=f"Notes on {name}", required=False, max_length=255, initial=mark.notes if mark else ""
            )
        self.fields["reason"] = reason_field()

    def clean(self):
        cleaned = super().clean()
        for enrollment in self.enrollments:
            pk = enrollment.student.pk
            status, minutes = cleaned.get(f"status_{pk}"), cleaned.get(f"minutes_late_{pk}")
            if minutes is not None and status != AttendanceStatus.LATE:
                self.add_error(f"minutes_late_{pk}", "Minutes late only for a late mark.")
        return cleaned

    def rows(self):
        """(enrollment, status field, minutes-late field, notes field) per listed student, for the template."""
        for enrollment in self.enrollments:
            pk = enrollment.student.pk
            yield enrollment, self[f"status_{pk}"], self[f"minutes_late_{pk}"], self[f"notes_{pk}"]

    def marks(self) -> list[dict]:
        """The sheet as the marks attendance_record_sheet takes."""
        return [
            {
                "student": enrollment.student,
                "status": self.cleaned_data[f"status_{enrollment.student.pk}"],
                "minutes_late": self.cleaned_data[f"minutes_late_{enrollment.student.pk}"],
                "notes": self.cleaned_data[f"notes_{enrollment.student.pk}"],
            }
            for enrollment in self.enrollments
        ]


class InstructorForm(forms.ModelForm):
    class Meta:
        model = Instructor
        fields = [
            "first_name",
            "last_name",
            "email",
            "phone",
            "user",
            "bio",
            "certifications",
            "specialties",
            "rate_type",
            "rate_amount",
            "is_contractor_1099",
            "is_active",
        ]
        widgets = {
            "bio": forms.Textarea(attrs={"rows": 3}),
            "certifications": forms.Textarea(attrs={"rows": 2}),
            "specialties": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {"user": "Login"}
        help_texts = {"user": "The portal login this instructor uses (the instructor role sees its own cohorts)."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = self.fields["user"]
        user.queryset = user.queryset.filter(Q(instructor__isnull=True) | Q(instructor__pk=self.instance.pk)).order_by(
            "username"
        )


class LocationForm(forms.ModelForm):
    class Meta:
        model = Location
        fields = [
            "name",
            "code",
            "location_type",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "postal_code",
            "capacity",
            "contact_name",
            "contact_phone",
            "contact_email",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"state": "Two-letter code, e.g. WA."}

    def clean_state(self):
        return self.cleaned_data["state"].strip().upper()
