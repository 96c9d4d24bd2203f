from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Prefetch, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.functional import cached_property

from attachments.models import Attachment
from attachments.services import is_admin
from ip2a.forms import ReasonForm, integrity_error_message
from ip2a.views import (
    FilteredListView,
    ObjectActionView,
    ObjectCreateView,
    ObjectDetailView,
    ObjectUpdateView,
    RestoreView,
    SoftDeleteView,
)
from members.models import Member
from members.services import member_convert_graduate
from training.filters.students import CredentialFilterSet, JATCApplicationFilterSet, StudentFilterSet
from training.forms.students import (
    CredentialForm,
    CredentialRenewForm,
    EnrollmentCompleteForm,
    EnrollmentCreateForm,
    EnrollmentForm,
    EnrollmentStatusForm,
    JATCApplicationAdvanceForm,
    JATCApplicationForm,
    StudentConvertForm,
    StudentForm,
)
from training.models import (
    OPEN_ENROLLMENT,
    Attendance,
    Cohort,
    Credential,
    CredentialStatus,
    Enrollment,
    EnrollmentStatus,
    JATCApplication,
    Student,
)
from training.resources import CredentialResource, JATCApplicationResource, StudentResource
from training.services.students import (
    APPLICATION_TRANSITIONS,
    ENROLLMENT_TRANSITIONS,
    ENROLLMENT_VERBS,
    RENEWABLE_CREDENTIAL,
    credential_renew,
    enrollment_change_status,
    enrollment_create,
    jatc_application_advance,
)
from training.views.cohorts import ATTENDED

# A credential expiring within this many days is flagged "expiring soon" on the student page.
EXPIRING_SOON_DAYS = 30
VERB_LABELS = {"start": "Start", "complete": "Complete", "drop": "Drop", "withdraw": "Withdraw", "defer": "Defer"}


def enrollments_newest_first():
    return Enrollment.objects.select_related("cohort").order_by("-enrolled_on", "-pk")


def set_program_fields(student, enrollments) -> None:
    """Put the list's derived columns on a student from its enrollments (newest first): the current cohort
    (latest open enrollment) and the program status (latest enrollment's status, or Applicant)."""
    current = next((e for e in enrollments if e.status in OPEN_ENROLLMENT), None)
    student.current_cohort = current.cohort if current else None
    student.program_status_label = enrollments[0].get_status_display() if enrollments else "Applicant"


def attendance_rate(marks) -> float | None:
    """Share of the marks that count as attended (as Student.attendance_rate counts), or None without marks."""
    counts = marks.aggregate(total=Count("pk"), attended=Count("pk", filter=Q(status__in=ATTENDED)))
    return counts["attended"] / counts["total"] if counts["total"] else None


def mark_expiry(credentials) -> list:
    """The credentials as a list, each with ``expiry_state`` ("expired", "expiring" within EXPIRING_SOON_DAYS, or
    "") and ``renewable``; only active and expired credentials are flagged (a renewed one is history)."""
    today = timezone.localdate()
    soon = today + timedelta(days=EXPIRING_SOON_DAYS)
    credentials = list(credentials)
    for credential in credentials:
        credential.renewable = credential.status in RENEWABLE_CREDENTIAL
        credential.expiry_state = ""
        if credential.status == CredentialStatus.EXPIRED or (credential.renewable and credential.is_expired):
            credential.expiry_state = "expired"
        elif credential.renewable and credential.expiration_date is not None and credential.expiration_date <= soon:
            credential.expiry_state = "expiring"
    return credentials


def form_error(form, exc: ValidationError) -> None:
    """Show a service's refusal on the form: on the field it names when the form has it, else on the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class ScopedActionView(ObjectActionView):
    """A confirmation page on one training row the user may see (instructors: their own students only); the
    database's and the services' refusals become form errors (400)."""

    def get_scoped_queryset(self):
        raise NotImplementedError

    def get_object(self):
        return get_object_or_404(self.get_scoped_queryset(), pk=self.kwargs["pk"])

    def form_valid(self, form):
        self.cleaned = form.cleaned_data
        try:
            with transaction.atomic():
                self.act(self.object, form.cleaned_data.get("reason", ""))
        except IntegrityError as exc:
            form.add_error(None, integrity_error_message(exc))
            return self.form_invalid(form)
        except ValidationError as exc:
            form_error(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, self.success_message())
        return HttpResponseRedirect(self.get_success_url())


class StudentScopeMixin:
    """The live student of the URL, among those the user may see (404 otherwise)."""

    @cached_property
    def student(self):
        return get_object_or_404(Student.objects.visible_to(self.request.user), pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        return super().get_context_data(student=self.student, **kwargs)

    def get_success_url(self):
        return self.student.get_absolute_url()


class OwnedByStudentMixin:
    """Rows owned by a live student the user may see: ``owned_model`` scoped by ``visible_to``."""

    owned_model = None

    def get_scoped_queryset(self):
        return (
            self.owned_model.objects.visible_to(self.request.user)
            .filter(student__deleted_at__isnull=True)
            .select_related("student")
        )

    def get_queryset(self):
        return self.get_scoped_queryset()

    def get_success_url(self):
        return self.object.student.get_absolute_url()


# --- Students ---------------------------------------------------------------------------------------------


class StudentListView(FilteredListView):
    permission_required = "training.view_student"
    filterset_class = StudentFilterSet
    resource_class = StudentResource
    export_permission = "training.export_student"
    static_filter_form = True  # its one choice list (the cohorts the user sees) is kept by data version
    results_cache_models = (Enrollment, Cohort)  # the current cohort and program status columns

    def get_queryset(self):
        # Deleted rows are hidden by the FilterSet unless the user may restore them.
        user = self.request.user
        return Student.all_objects.visible_to(user).prefetch_related(
            Prefetch("enrollments", queryset=enrollments_newest_first().visible_to(user), to_attr="enrollment_list")
        )

    def prepare_results(self, context):
        for student in context["object_list"]:
            set_program_fields(student, student.enrollment_list)


class StudentDetailView(ObjectDetailView):
    permission_required = "training.view_student"
    model = Student

    def get_queryset(self):
        return super().get_queryset().visible_to(self.request.user)

    def get_context_data(self, **kwargs):
        student, user = self.object, self.request.user
        admin = is_admin(user)
        enrollments = list(enrollments_newest_first().visible_to(user).filter(student=student))
        for enrollment in enrollments:
            allowed = ENROLLMENT_TRANSITIONS.get(enrollment.status, ())
            enrollment.actions = [
                (verb, VERB_LABELS[verb]) for verb, status in ENROLLMENT_VERBS.items() if status in allowed
            ]
            enrollment.override_actions = (
                [
                    (verb, VERB_LABELS[verb])
                    for verb, status in ENROLLMENT_VERBS.items()
                    if status not in allowed and status != enrollment.status
                ]
                if admin
                else []
            )
        set_program_fields(student, enrollments)
        credentials = mark_expiry(Credential.objects.filter(student=student))
        if self.request.user.has_perm("attachments.view_attachment"):
            for rows in (enrollments, credentials):
                counts = Attachment.objects.counts_for(rows)
                for row in rows:
                    row.file_count = counts.get(row.pk, 0)
        applications = list(JATCApplication.objects.filter(student=student))
        admin = is_admin(self.request.user)
        for application in applications:
            application.can_advance = admin or application.status in APPLICATION_TRANSITIONS
        member = Member.all_objects.filter(student=student).only("pk", "member_number", "deleted_at").first()
        completed = any(e.status == EnrollmentStatus.COMPLETED for e in enrollments)
        return super().get_context_data(
            enrollments=enrollments,
            attendance_rate=attendance_rate(Attendance.objects.visible_to(user).filter(student=student)),
            credentials=credentials,
            applications=applications,
            member=member,
            can_convert=(
                completed and member is None and not student.deleted_at and user.has_perm("members.convert_student")
            ),
            credential_actions=not student.deleted_at,
            **kwargs,
        )


class StudentCreateView(ObjectCreateView):
    permission_required = "training.add_student"
    model = Student
    form_class = StudentForm
    template_name = "training/student_form.html"


class StudentUpdateView(ObjectUpdateView):
    permission_required = "training.change_student"
    model = Student
    form_class = StudentForm
    template_name = "training/student_form.html"

    def get_queryset(self):
        return Student.objects.visible_to(self.request.user)


class StudentDeleteView(SoftDeleteView):
    permission_required = "training.delete_student"
    model = Student
    template_name = "training/student_delete.html"


class StudentRestoreView(RestoreView):
    permission_required = "training.delete_student"
    model = Student
    template_name = "training/student_restore.html"


class StudentConvertView(ScopedActionView):
    """Convert a graduate to a member (members.member_convert_graduate); afterwards, the new member's page."""

    permission_required = ("members.convert_student", "training.view_student")
    form_class = StudentConvertForm
    template_name = "training/student_convert.html"
    action_label = "Convert to member"

    def get_scoped_queryset(self):
        return Student.objects.visible_to(self.request.user)

    def get_context_data(self, **kwargs):
        student = self.object
        return super().get_context_data(
            completed=student.enrollments.filter(status=EnrollmentStatus.COMPLETED).exists(),
            member=Member.all_objects.filter(student=student).first(),
            credentials=list(student.credentials.all()),
            **kwargs,
        )

    def act(self, obj, reason):
        self.member = member_convert_graduate(
            student=obj,
            member_number=self.cleaned["member_number"],
            classification=self.cleaned["classification"],
            join_date=self.cleaned["join_date"],
            status=self.cleaned["status"],
            user=self.request.user,
        )

    def success_message(self):
        return f"{self.object} is now member {self.member.member_number}."

    def get_success_url(self):
        return self.member.get_absolute_url()


# --- Enrollments ------------------------------------------------------------------------------------------


class EnrollmentCreateView(StudentScopeMixin, ScopedActionView):
    permission_required = "training.add_enrollment"
    form_class = EnrollmentCreateForm
    template_name = "training/enrollment_form.html"
    action_label = "Enroll"

    def get_object(self):
        return self.student

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def act(self, obj, reason):
        self.enrollment = enrollment_create(
            student=obj,
            cohort=self.cleaned["cohort"],
            enrolled_on=self.cleaned["enrolled_on"],
            notes=self.cleaned.get("notes", ""),
            reason=reason,
        )

    def success_message(self):
        return f"Enrolled {self.student} in {self.enrollment.cohort}."


class EnrollmentUpdateView(OwnedByStudentMixin, ObjectUpdateView):
    permission_required = "training.change_enrollment"
    owned_model = Enrollment
    form_class = EnrollmentForm
    template_name = "training/enrollment_form.html"

    def get_scoped_queryset(self):
        return super().get_scoped_queryset().select_related("cohort")

    def get_context_data(self, **kwargs):
        return super().get_context_data(student=self.object.student, **kwargs)


class EnrollmentStatusView(OwnedByStudentMixin, ScopedActionView):
    """One status change of an enrollment (the view's ``verb``); drop, withdraw and defer need a reason."""

    permission_required = "training.change_enrollment"
    owned_model = Enrollment
    template_name = "training/enrollment_status.html"
    verb = ""

    def get_scoped_queryset(self):
        return super().get_scoped_queryset().select_related("cohort")

    @property
    def status(self) -> str:
        return ENROLLMENT_VERBS[self.verb]

    @property
    def action_label(self) -> str:
        return VERB_LABELS[self.verb]

    def get_form_class(self):
        return EnrollmentCompleteForm if self.status == EnrollmentStatus.COMPLETED else EnrollmentStatusForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "reason_required": self.verb in ("drop", "withdraw", "defer")}

    def get_context_data(self, **kwargs):
        allowed = self.status in ENROLLMENT_TRANSITIONS.get(self.object.status, ())
        return super().get_context_data(
            new_status=EnrollmentStatus(self.status).label,
            allowed=allowed,
            is_admin=is_admin(self.request.user),
            **kwargs,
        )

    def act(self, obj, reason):
        self.object = enrollment_change_status(
            enrollment=obj,
            status=self.status,
            completed_on=self.cleaned.get("completed_on"),
            final_grade=self.cleaned.get("final_grade"),
            reason=reason,
            user=self.request.user,
        )

    def success_message(self):
        return f"{self.object}: {self.object.get_status_display().lower()}."


class EnrollmentDeleteView(OwnedByStudentMixin, ScopedActionView):
    permission_required = "training.delete_enrollment"
    owned_model = Enrollment
    template_name = "training/enrollment_delete.html"
    action_label = "Delete enrollment"
    button_class = "danger"

    def act(self, obj, reason):
        obj.delete(reason=reason)  # deleted for real; its attachments are soft-deleted with it

    def success_message(self):
        return f"Deleted the enrollment {self.object}."


# --- Credentials ------------------------------------------------------------------------------------------


class CredentialCreateView(StudentScopeMixin, ObjectCreateView):
    permission_required = "training.add_credential"
    model = Credential
    form_class = CredentialForm
    template_name = "training/credential_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "student": self.student}


class CredentialUpdateView(OwnedByStudentMixin, ObjectUpdateView):
    permission_required = "training.change_credential"
    owned_model = Credential
    form_class = CredentialForm
    template_name = "training/credential_form.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(student=self.object.student, **kwargs)


class CredentialRenewView(OwnedByStudentMixin, ScopedActionView):
    permission_required = ("training.add_credential", "training.change_credential")
    owned_model = Credential
    form_class = CredentialRenewForm
    template_name = "training/credential_renew.html"
    action_label = "Renew"

    def get_initial(self):
        return {"certificate_number": self.object.certificate_number}

    def act(self, obj, reason):
        self.renewal = credential_renew(
            credential=obj,
            issue_date=self.cleaned["issue_date"],
            expiration_date=self.cleaned.get("expiration_date"),
            certificate_number=self.cleaned.get("certificate_number", ""),
            reason=reason,
        )

    def success_message(self):
        return f"Renewed {self.object.name} for {self.object.student}."


class CredentialDeleteView(OwnedByStudentMixin, ScopedActionView):
    permission_required = "training.delete_credential"
    owned_model = Credential
    form_class = ReasonForm
    template_name = "training/credential_delete.html"
    action_label = "Delete credential"
    button_class = "danger"

    def act(self, obj, reason):
        obj.delete(reason=reason)

    def success_message(self):
        return f"Deleted the credential {self.object}."


class CredentialExpiringView(FilteredListView):
    """Active credentials of live students expiring within 30, 60 or 90 days."""

    permission_required = "training.view_credential"
    filterset_class = CredentialFilterSet
    resource_class = CredentialResource
    export_permission = "training.export_student"
    template_name = "training/credential_expiring.html"

    def get_queryset(self):
        return (
            Credential.objects.visible_to(self.request.user)
            .filter(status=CredentialStatus.ACTIVE, student__deleted_at__isnull=True)
            .select_related("student")
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        today = timezone.localdate()
        for credential in context["object_list"] or ():
            credential.days_left = (credential.expiration_date - today).days
        return context


# --- JATC applications ------------------------------------------------------------------------------------


class JATCApplicationListView(FilteredListView):
    permission_required = "training.view_jatcapplication"
    filterset_class = JATCApplicationFilterSet
    resource_class = JATCApplicationResource
    export_permission = "training.export_student"
    template_name = "training/jatcapplication_list.html"

    def get_queryset(self):
        return (
            JATCApplication.objects.visible_to(self.request.user)
            .filter(student__deleted_at__isnull=True)
            .select_related("student")
        )


class JATCApplicationCreateView(StudentScopeMixin, ObjectCreateView):
    permission_required = "training.add_jatcapplication"
    model = JATCApplication
    form_class = JATCApplicationForm
    template_name = "training/jatcapplication_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "student": self.student}


class JATCApplicationUpdateView(OwnedByStudentMixin, ObjectUpdateView):
    permission_required = "training.change_jatcapplication"
    owned_model = JATCApplication
    form_class = JATCApplicationForm
    template_name = "training/jatcapplication_form.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(student=self.object.student, **kwargs)


class JATCApplicationAdvanceView(OwnedByStudentMixin, ScopedActionView):
    permission_required = "training.change_jatcapplication"
    owned_model = JATCApplication
    form_class = JATCApplicationAdvanceForm
    template_name = "training/jatcapplication_advance.html"
    action_label = "Change status"

    def get_object(self):
        # A final application has no next status: nothing to advance (administrators may still correct it).
        scoped = self.get_scoped_queryset()
        if not is_admin(self.request.user):
            scoped = scoped.filter(status__in=list(APPLICATION_TRANSITIONS))
        return get_object_or_404(scoped, pk=self.kwargs["pk"])

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "application": self.object, "override": is_admin(self.request.user)}

    def act(self, obj, reason):
        self.object = jatc_application_advance(
            application=obj,
            status=self.cleaned["status"],
            decision_date=self.cleaned.get("decision_date"),
            interview_date=self.cleaned.get("interview_date"),
            reason=reason,
            user=self.request.user,
        )

    def success_message(self):
        return f"{self.object}: {self.object.get_status_display().lower()}."


class JATCApplicationDeleteView(OwnedByStudentMixin, ScopedActionView):
    permission_required = "training.delete_jatcapplication"
    owned_model = JATCApplication
    form_class = ReasonForm
    template_name = "training/jatcapplication_delete.html"
    action_label = "Delete application"
    button_class = "danger"

    def act(self, obj, reason):
        obj.delete(reason=reason)

    def success_message(self):
        return f"Deleted the {self.object}."
