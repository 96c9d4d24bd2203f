"""Cohorts, their instructor assignments, sessions and attendance sheets; instructors; locations.

Every list, detail and action view reads through ``visible_to(request.user)``, so an instructor reaches only
their own cohorts, those cohorts' sessions and students (404 for anything else); the permission is checked
first (403).
"""

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views import View
from django.views.generic import FormView

from attachments.services import is_admin
from ip2a.forms import integrity_error_message
from ip2a.views import (
    FilteredListView,
    ObjectActionView,
    ObjectCreateView,
    ObjectDetailView,
    ObjectUpdateView,
    RestoreView,
    SoftDeleteView,
)
from training.filters.cohorts import CohortFilterSet, InstructorFilterSet, LocationFilterSet
from training.forms.cohorts import (
    AttendanceSheetForm,
    ClassSessionForm,
    CohortForm,
    CohortInstructorForm,
    CohortStatusForm,
    InstructorForm,
    LocationForm,
)
from training.models import (
    SEAT_TAKING,
    Attendance,
    AttendanceStatus,
    ClassSession,
    Cohort,
    CohortInstructor,
    Enrollment,
    Instructor,
    Location,
)
from training.resources import CohortResource, InstructorResource, LocationResource
from training.services.cohorts import (
    NEXT_COHORT_STATUS,
    SHEET_ENROLLMENT,
    attendance_record_sheet,
    cohort_cancel,
    cohort_change_status,
    cohort_soft_delete,
    cohortinstructor_delete,
    cohortinstructor_make_primary,
    instructor_soft_delete,
    location_soft_delete,
)

# Marks that count as attended in an attendance rate (as Student.attendance_rate counts them).
ATTENDED = (AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.EARLY_DEPARTURE)
# Detail pages list at most this many upcoming sessions.
UPCOMING_SESSIONS = 20

LIVE_SESSIONS = ClassSession.objects.filter(cohort__deleted_at__isnull=True)
LIVE_ASSIGNMENTS = CohortInstructor.objects.filter(cohort__deleted_at__isnull=True)


def session_url(session: ClassSession) -> str:
    return reverse("training:classsession_detail", args=[session.pk])


def seats_taken():
    """An annotation: the cohort's enrollments that take a seat (enrolled, in progress, completed)."""
    return Count(
        "enrollments",
        filter=Q(enrollments__status__in=SEAT_TAKING, enrollments__student__deleted_at__isnull=True),
    )


class VisibleDetailMixin:
    """Limit a detail or form view to the rows the user may see (an instructor: their own cohorts)."""

    def get_queryset(self):
        return super().get_queryset().visible_to(self.request.user)


# --- Cohorts ---------------------------------------------------------------------------------------------


class CohortListView(FilteredListView):
    permission_required = "training.view_cohort"
    # An aggregate drops Meta.ordering, so the order is named again (pk last: pages never repeat a row).
    queryset = (
        Cohort.all_objects.select_related("location").annotate(enrolled=seats_taken()).order_by("-start_date", "pk")
    )
    filterset_class = CohortFilterSet
    resource_class = CohortResource
    export_permission = "training.export_student"
    static_filter_form = True  # its one choice list (locations) is kept by data version
    results_cache_models = ()  # every column comes from the list's own query

    def get_queryset(self):
        return super().get_queryset().visible_to(self.request.user)


class CohortDetailView(VisibleDetailMixin, ObjectDetailView):
    permission_required = "training.view_cohort"
    model = Cohort

    def get_queryset(self):
        return super().get_queryset().select_related("location")

    def get_context_data(self, **kwargs):
        """Add the roster (with attendance rates), seats taken, instructors (primary first) and sessions; one
        query for each, whatever the cohort's size."""
        cohort = self.object
        roster = list(
            Enrollment.objects.filter(cohort=cohort, student__deleted_at__isnull=True)
            .select_related("student")
            .order_by("student__last_name", "student__first_name", "pk")
        )
        rates = {
            row["student_id"]: row
            for row in Attendance.objects.filter(session__cohort=cohort)
            .values("student_id")
            .annotate(total=Count("pk"), attended=Count("pk", filter=Q(status__in=ATTENDED)))
            .order_by()
        }
        for enrollment in roster:
            marks = rates.get(enrollment.student_id)
            enrollment.marks = marks["total"] if marks else 0
            enrollment.attendance_rate = marks["attended"] / marks["total"] if marks else None
        return super().get_context_data(
            roster=roster,
            can_change_status=cohort.status in NEXT_COHORT_STATUS or is_admin(self.request.user),
            seats_taken=sum(1 for enrollment in roster if enrollment.status in SEAT_TAKING),
            assignments=list(CohortInstructor.objects.filter(cohort=cohort).select_related("instructor")),
            sessions=list(
                ClassSession.objects.filter(cohort=cohort)
                .select_related("instructor", "location")
                .annotate(marks=Count("attendance"))
            ),
            **kwargs,
        )


class CohortCreateView(ObjectCreateView):
    permission_required = "training.add_cohort"
    model = Cohort
    form_class = CohortForm
    template_name = "training/cohort_form.html"


class CohortUpdateView(VisibleDetailMixin, ObjectUpdateView):
    permission_required = "training.change_cohort"
    model = Cohort
    form_class = CohortForm
    template_name = "training/cohort_form.html"

    def save_form(self, form):
        # enrollment_create counts seats with the cohort row locked; lock it here too and count again, so a lowered
        # capacity and a seat taken at the same moment cannot both pass.
        Cohort.objects.select_for_update().filter(pk=form.instance.pk).first()
        try:
            form.check_capacity(form.cleaned_data["max_students"])
        except ValidationError as exc:
            raise ValidationError({"max_students": exc.messages}) from exc
        return form.save()


class CohortActionMixin:
    """An action on a live cohort the user may see."""

    def get_object(self):
        return get_object_or_404(Cohort.objects.visible_to(self.request.user), pk=self.kwargs["pk"])


class CohortStatusView(CohortActionMixin, ObjectActionView):
    permission_required = "training.change_cohort"
    form_class = CohortStatusForm
    template_name = "training/cohort_status.html"
    action_label = "Change status"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "cohort": self.object, "override": is_admin(self.request.user)}

    def form_valid(self, form):
        self.new_status = form.cleaned_data["status"]
        return super().form_valid(form)

    def act(self, obj, reason):
        self.object = cohort_change_status(cohort=obj, status=self.new_status, reason=reason, user=self.request.user)

    def success_message(self):
        return f"{self.object}: status changed to {self.object.get_status_display()}."


class CohortCancelView(CohortActionMixin, ObjectActionView):
    permission_required = "training.change_cohort"
    template_name = "training/cohort_cancel.html"
    action_label = "Cancel cohort"
    button_class = "danger"

    def get_context_data(self, **kwargs):
        open_enrollments = Enrollment.objects.open().filter(cohort=self.object).count()
        return super().get_context_data(open_enrollments=open_enrollments, **kwargs)

    def act(self, obj, reason):
        self.object, self.deferred = cohort_cancel(cohort=obj, reason=reason)

    def success_message(self):
        return f"Cancelled {self.object}; {self.deferred} enrollment(s) deferred."


class CohortDeleteView(SoftDeleteView):
    permission_required = "training.delete_cohort"
    model = Cohort
    template_name = "training/cohort_confirm.html"

    def act(self, obj, reason):
        cohort_soft_delete(cohort=obj, reason=reason)


class CohortRestoreView(RestoreView):
    permission_required = "training.delete_cohort"
    model = Cohort
    template_name = "training/cohort_confirm.html"


# --- Instructor assignments -------------------------------------------------------------------------------


class CohortInstructorCreateView(ObjectCreateView):
    permission_required = "training.add_cohortinstructor"
    model = CohortInstructor
    form_class = CohortInstructorForm
    template_name = "training/cohortinstructor_form.html"

    @cached_property
    def cohort(self):
        return get_object_or_404(Cohort.objects.visible_to(self.request.user), pk=self.kwargs["pk"])

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "instance": CohortInstructor(cohort=self.cohort)}

    def get_context_data(self, **kwargs):
        return super().get_context_data(cohort=self.cohort, **kwargs)

    def save_form(self, form):
        make_primary = form.cleaned_data["is_primary"]
        form.instance.is_primary = False
        assignment = form.save()
        if make_primary:
            assignment = cohortinstructor_make_primary(assignment=assignment)
        return assignment

    def success_message(self):
        return f"Assigned {self.object.instructor} to {self.cohort}."

    def get_success_url(self):
        return self.cohort.get_absolute_url()


class CohortInstructorMakePrimaryView(PermissionRequiredMixin, View):
    """Make one assignment the cohort's primary one (POST only; the cohort page has the button)."""

    permission_required = "training.change_cohortinstructor"
    http_method_names = ["post"]

    def post(self, request, pk):
        assignment = get_object_or_404(
            LIVE_ASSIGNMENTS.visible_to(request.user).select_related("cohort", "instructor"), pk=pk
        )
        try:
            cohortinstructor_make_primary(assignment=assignment)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{assignment.instructor} is now the primary instructor of {assignment.cohort}.")
        return HttpResponseRedirect(assignment.cohort.get_absolute_url())


class CohortInstructorDeleteView(ObjectActionView):
    permission_required = "training.delete_cohortinstructor"
    template_name = "training/cohortinstructor_confirm.html"
    action_label = "Remove instructor"
    button_class = "danger"

    def get_object(self):
        assignments = LIVE_ASSIGNMENTS.visible_to(self.request.user).select_related("cohort", "instructor")
        return get_object_or_404(assignments, pk=self.kwargs["pk"])

    def act(self, obj, reason):
        cohortinstructor_delete(assignment=obj, reason=reason)

    def success_message(self):
        return f"Removed {self.object.instructor} from {self.object.cohort}."

    def get_success_url(self):
        return self.object.cohort.get_absolute_url()


# --- Sessions and attendance ------------------------------------------------------------------------------


class ClassSessionCreateView(ObjectCreateView):
    permission_required = "training.add_classsession"
    model = ClassSession
    form_class = ClassSessionForm
    template_name = "training/classsession_form.html"

    @cached_property
    def cohort(self):
        return get_object_or_404(
            Cohort.objects.visible_to(self.request.user).select_related("location"), pk=self.kwargs["pk"]
        )

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "instance": ClassSession(cohort=self.cohort)}

    def get_context_data(self, **kwargs):
        return super().get_context_data(cohort=self.cohort, **kwargs)

    def success_message(self):
        return f"Added the session {self.object}."

    def get_success_url(self):
        return session_url(self.object)


class ClassSessionDetailView(VisibleDetailMixin, ObjectDetailView):
    permission_required = "training.view_classsession"
    queryset = LIVE_SESSIONS.select_related("cohort", "instructor", "location")

    def get_context_data(self, **kwargs):
        marks = Attendance.objects.filter(session=self.object, student__deleted_at__isnull=True).select_related(
            "student"
        )
        return super().get_context_data(
            marks=marks.order_by("student__last_name", "student__first_name", "pk"), **kwargs
        )


class ClassSessionUpdateView(VisibleDetailMixin, ObjectUpdateView):
    permission_required = "training.change_classsession"
    queryset = LIVE_SESSIONS.select_related("cohort")
    model = ClassSession
    form_class = ClassSessionForm
    template_name = "training/classsession_form.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(cohort=self.object.cohort, **kwargs)

    def success_message(self):
        return f"Saved the session {self.object}."

    def get_success_url(self):
        return session_url(self.object)


class ClassSessionDeleteView(ObjectActionView):
    permission_required = "training.delete_classsession"
    template_name = "training/classsession_confirm.html"
    action_label = "Delete session"
    button_class = "danger"

    def get_object(self):
        sessions = LIVE_SESSIONS.visible_to(self.request.user).select_related("cohort")
        return get_object_or_404(sessions.annotate(marks=Count("attendance")), pk=self.kwargs["pk"])

    def act(self, obj, reason):
        obj.delete(reason=reason)  # deleted for real, with its attendance marks

    def success_message(self):
        return f"Deleted the session {self.object}."

    def get_success_url(self):
        return self.object.cohort.get_absolute_url()


class SessionAttendanceView(PermissionRequiredMixin, FormView):
    """A session's attendance sheet: every student enrolled (in progress, completed) in the cohort on one form,
    saved together in one transaction. Cancelled sessions take no attendance."""

    permission_required = ("training.take_attendance", "training.add_attendance", "training.change_attendance")
    template_name = "training/attendance_sheet.html"
    form_class = AttendanceSheetForm

    def dispatch(self, request, *args, **kwargs):
        if not self.has_permission():
            return self.handle_no_permission()
        sessions = LIVE_SESSIONS.visible_to(request.user).select_related("cohort", "instructor", "location")
        self.session = get_object_or_404(sessions, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        enrollments = (
            Enrollment.objects.filter(
                cohort_id=self.session.cohort_id, status__in=SHEET_ENROLLMENT, student__deleted_at__isnull=True
            )
            .select_related("student")
            .order_by("student__last_name", "student__first_name", "pk")
        )
        marks = {mark.student_id: mark for mark in Attendance.objects.filter(session=self.session)}
        return {**super().get_form_kwargs(), "enrollments": enrollments, "marks": marks}

    def get_context_data(self, **kwargs):
        return super().get_context_data(session=self.session, cohort=self.session.cohort, **kwargs)

    def form_valid(self, form):
        try:
            with transaction.atomic():
                counts = attendance_record_sheet(
                    session=self.session, marks=form.marks(), reason=form.cleaned_data["reason"]
                )
        except IntegrityError as exc:
            form.add_error(None, integrity_error_message(exc))
            return self.form_invalid(form)
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        messages.success(
            self.request,
            f"Attendance saved for {self.session}: {counts['created']} new, {counts['updated']} changed, "
            f"{counts['unchanged']} unchanged.",
        )
        return HttpResponseRedirect(session_url(self.session))

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response


# --- Instructors ------------------------------------------------------------------------------------------


class InstructorListView(FilteredListView):
    permission_required = "training.view_instructor"
    queryset = Instructor.all_objects.all()
    filterset_class = InstructorFilterSet
    resource_class = InstructorResource
    export_permission = "training.export_student"

    def get_queryset(self):
        return super().get_queryset().visible_to(self.request.user)


class InstructorDetailView(VisibleDetailMixin, ObjectDetailView):
    permission_required = "training.view_instructor"
    model = Instructor

    def get_context_data(self, **kwargs):
        """Add the cohorts taught (newest first) and the next sessions taught, both within the user's scope."""
        user = self.request.user
        assignments = (
            LIVE_ASSIGNMENTS.visible_to(user)
            .filter(instructor=self.object)
            .select_related("cohort")
            .order_by("-cohort__start_date", "pk")
        )
        upcoming = (
            LIVE_SESSIONS.visible_to(user)
            .filter(instructor=self.object, date__gte=timezone.localdate())
            .select_related("cohort", "location")
            .order_by("date", "start_time", "pk")[:UPCOMING_SESSIONS]
        )
        return super().get_context_data(assignments=assignments, upcoming_sessions=upcoming, **kwargs)


class InstructorCreateView(ObjectCreateView):
    permission_required = "training.add_instructor"
    model = Instructor
    form_class = InstructorForm
    template_name = "training/instructor_form.html"


class InstructorUpdateView(VisibleDetailMixin, ObjectUpdateView):
    permission_required = "training.change_instructor"
    model = Instructor
    form_class = InstructorForm
    template_name = "training/instructor_form.html"


class InstructorDeleteView(SoftDeleteView):
    permission_required = "training.delete_instructor"
    model = Instructor
    template_name = "training/instructor_confirm.html"

    def act(self, obj, reason):
        instructor_soft_delete(instructor=obj, reason=reason)


class InstructorRestoreView(RestoreView):
    permission_required = "training.delete_instructor"
    model = Instructor
    template_name = "training/instructor_confirm.html"


# --- Locations (not scoped: a place holds no personal data; its cohorts and sessions are) -------------------


class LocationListView(FilteredListView):
    permission_required = "training.view_location"
    queryset = Location.all_objects.all()
    filterset_class = LocationFilterSet
    resource_class = LocationResource
    export_permission = "training.export_student"


class LocationDetailView(ObjectDetailView):
    permission_required = "training.view_location"
    model = Location

    def get_context_data(self, **kwargs):
        """Add the cohorts meeting here (newest first) and the next sessions here, within the user's scope."""
        user = self.request.user
        cohorts = (
            Cohort.objects.visible_to(user)
            .filter(location=self.object)
            .annotate(enrolled=seats_taken())
            .order_by("-start_date", "pk")
        )
        upcoming = (
            LIVE_SESSIONS.visible_to(user)
            .filter(location=self.object, date__gte=timezone.localdate())
            .select_related("cohort", "instructor")
            .order_by("date", "start_time", "pk")[:UPCOMING_SESSIONS]
        )
        return super().get_context_data(cohorts=cohorts, upcoming_sessions=upcoming, **kwargs)


class LocationCreateView(ObjectCreateView):
    permission_required = "training.add_location"
    model = Location
    form_class = LocationForm
    template_name = "training/location_form.html"


class LocationUpdateView(ObjectUpdateView):
    permission_required = "training.change_location"
    model = Location
    form_class = LocationForm
    template_name = "training/location_form.html"


class LocationDeleteView(SoftDeleteView):
    permission_required = "training.delete_location"
    model = Location
    template_name = "training/location_confirm.html"

    def act(self, obj, reason):
        location_soft_delete(location=obj, reason=reason)


class LocationRestoreView(RestoreView):
    permission_required = "training.delete_location"
    model = Location
    template_name = "training/location_confirm.html"
