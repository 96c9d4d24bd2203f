from django.contrib import messages
from django.contrib.auth.models import User
from django.http import Http404, HttpResponseRedirect
from django.utils.functional import SimpleLazyObject, cached_property

from attachments.models import file_count_column
from attachments.services import is_admin
from audit.timeline import record_events
from ip2a.caching import tracked_tables, version_key
from ip2a.rows import read_owned, record_or_404
from ip2a.views import (
    FilteredListView,
    ObjectActionView,
    ObjectCreateView,
    ObjectDetailView,
    ObjectUpdateView,
    RestoreView,
    SoftDeleteView,
)
from members.filters import MemberFilterSet
from members.forms import EmploymentAddForm, EmploymentEndForm, EmploymentForm, MemberForm, MemberStatusForm
from members.models import Member, MemberEmployment, MemberStatus
from members.resources import MemberResource
from members.services import employment_add, employment_end, member_change_status
from organizations.models import Organization
from training.models import Credential, Student
from training.views.students import mark_expiry

RECENT_EVENTS = 10


class MemberListView(FilteredListView):
    permission_required = "members.view_member"
    queryset = Member.all_objects.for_list()  # the FilterSet hides deleted rows unless the user may restore them
    filterset_class = MemberFilterSet
    resource_class = MemberResource
    export_permission = "members.export_member"
    static_filter_form = True  # its filters read no choices from the database
    results_cache_models = (MemberEmployment, Organization)  # the current employer column
    content_checked = True

    def shown_querysets(self, rows):
        """Every column, the employer's included, comes from list_page's one statement."""
        return [Member.all_objects.list_page(rows)]

    # The labels of the status and classification columns (get_FOO_display() builds this dict on every call).
    labels = {name: dict(Member._meta.get_field(name).flatchoices) for name in ("status", "classification")}

    def paginate_queryset(self, queryset, page_size):
        """Read the page's rows with Member.list_page (one query, the columns the table shows); the export,
        never paginated, reads every column through for_list()."""
        paginator, page, _rows, is_paginated = super().paginate_queryset(queryset, page_size)
        page.object_list = Member.all_objects.list_page(page.object_list)
        return paginator, page, page.object_list, is_paginated

    def prepare_results(self, context):
        statuses, classifications = self.labels["status"], self.labels["classification"]
        for member in context["object_list"]:
            member.status_label = statuses.get(member.status, member.status)
            member.classification_label = classifications.get(member.classification, member.classification)


class MemberDetailView(ObjectDetailView):
    permission_required = "members.view_member"
    model = Member
    # What the body shows: the member, its jobs and their files and the history of all three (versioned per
    # member: body_record_history; a job never changes member, so its events always name this one), and of
    # other rows the employers, uploaders and people in the history, and the student record with its
    # credentials.
    body_record_history = True
    body_cache_models = (Organization, Student, Credential, User)
    read_joined = ("student",)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            # Read only when the jobs part is rendered, not while it is kept (jobs_key).
            employments=SimpleLazyObject(lambda: self.employments),
            current_job=SimpleLazyObject(lambda: self.current_job),
            jobs_key=self.jobs_key(),
            recent_activity=self.recent_activity(),
            can_change_status=self.object.status != MemberStatus.DECEASED or is_admin(self.request.user),
            student_credentials=self.student_credentials(),
            **kwargs,
        )

    @cached_property
    def employments(self) -> list:
        """The member's jobs with their employers, newest first (Meta), and their file counts for users who may
        view files: one statement written once per process (ip2a.rows.read_owned)."""
        may_view_files = self.request.user.has_perm("attachments.view_attachment")
        files = (file_count_column(MemberEmployment),) if may_view_files else ()
        using = self.object._state.db  # where the member was read (a replica on GETs), as its related manager would
        return read_owned(self.object, "employments", joined=("organization",), extra=files, using=using)

    @cached_property
    def current_job(self) -> MemberEmployment | None:
        return next((job for job in self.employments if job.is_current), None)

    def jobs_key(self) -> str | None:
        """The key the current-job panel and the jobs table are kept under ({% kept %}): the versions of the
        jobs' own history, of their files and of the employers, with the body's own key (role set, day, the
        member) and whether the member is deleted (the actions column). An edit of the member's own fields
        moves the body's versions but not these, so the body is rebuilt without reading or rendering its jobs
        again. None when the body is not kept."""
        versions = self.body_versions_read
        if versions is None:
            return None
        employers = tracked_tables()[Organization._meta.db_table]
        names = (MemberEmployment._meta.label_lower, f"{MemberEmployment._meta.label_lower} files", employers)
        if not all(name in versions for name in names):
            return None
        parts = ("jobs", self.body_key({}), self.object.deleted_at is None)
        return version_key(*parts, versions={name: versions[name] for name in names})

    def student_credentials(self) -> list | None:
        """The credentials of the student record the member came from (DOMAIN.md §4.2), with their expiry; one
        query, and none for a member without a student record. None for roles that may not view credentials
        (organizers), whose page then shows no credentials panel."""
        if self.object.student_id is None or not self.request.user.has_perm("training.view_credential"):
            return None
        return mark_expiry(Credential.objects.filter(student_id=self.object.student_id))

    def recent_activity(self) -> list:
        """The last history events of the member, its jobs and their attachments, newest first."""
        entries, _more = record_events(self.object, user=self.request.user, stop=RECENT_EVENTS)
        return entries


class MemberCreateView(ObjectCreateView):
    permission_required = "members.add_member"
    model = Member
    form_class = MemberForm
    template_name = "members/member_form.html"


class MemberUpdateView(ObjectUpdateView):
    permission_required = "members.change_member"
    model = Member
    reads_live_record = True
    form_class = MemberForm
    template_name = "members/member_form.html"


class MemberStatusView(ObjectActionView):
    permission_required = "members.change_member"
    queryset = Member.objects.all()
    form_class = MemberStatusForm
    template_name = "members/member_status.html"
    action_label = "Change status"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "member": self.object}

    def form_valid(self, form):
        self.cleaned = form.cleaned_data
        return super().form_valid(form)

    def act(self, obj, reason):
        self.object = member_change_status(
            member=obj,
            status=self.cleaned["status"],
            reason=reason,
            user=self.request.user,
            ended_on=self.cleaned.get("ended_on"),
        )

    def success_message(self):
        return f"{self.object}: status changed to {self.object.get_status_display()}."


class MemberDeleteView(SoftDeleteView):
    permission_required = "members.delete_member"
    model = Member
    template_name = "members/member_delete.html"


class MemberRestoreView(RestoreView):
    permission_required = "members.delete_member"
    model = Member
    template_name = "members/member_restore.html"


class EmploymentFormMixin:
    """The job pages of one live member: back to the member afterwards, with a notice for an unusual rate."""

    model = MemberEmployment
    template_name = "members/employment_form.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(member=self.member, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        if isinstance(response, HttpResponseRedirect) and (warning := form.rate_warning()):
            messages.warning(self.request, warning)
        return response

    def get_success_url(self):
        return self.member.get_absolute_url()


class EmploymentCreateView(EmploymentFormMixin, ObjectCreateView):
    permission_required = "members.add_memberemployment"
    form_class = EmploymentAddForm

    @cached_property
    def member(self):
        return record_or_404(Member, self.kwargs["pk"])

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "member": self.member}

    def save_form(self, form):
        return employment_add(**form.service_kwargs())

    def success_message(self):
        return f"Added the job {self.object} for {self.member.full_name}."


class EmploymentUpdateView(EmploymentFormMixin, ObjectUpdateView):
    permission_required = "members.change_memberemployment"
    queryset = MemberEmployment.objects.filter(member__deleted_at__isnull=True).select_related(
        "member", "organization"
    )
    form_class = EmploymentForm

    @property
    def member(self):
        return self.object.member


class EmploymentActionMixin:
    """A confirmation page for one job of a live member; afterwards, back to the member."""

    def get_success_url(self):
        return self.object.member.get_absolute_url()


class EmploymentEndView(EmploymentActionMixin, ObjectActionView):
    permission_required = "members.change_memberemployment"
    form_class = EmploymentEndForm
    template_name = "members/employment_end.html"
    action_label = "End job"

    def get_object(self):
        """The current job of a live member, with the member and the employer: one statement written once per
        process (ip2a.rows) on the GET and the POST, where a QuerySet filtered on both was compiled each time."""
        job = record_or_404(MemberEmployment, self.kwargs["pk"], live_only=False, joined=("member", "organization"))
        if not job.is_current or job.member.deleted_at is not None:
            raise Http404("No current job of a live member found matching the query")
        return job

    def form_valid(self, form):
        self.end_date = form.cleaned_data["end_date"]
        return super().form_valid(form)

    def act(self, obj, reason):
        self.object = employment_end(employment=obj, end_date=self.end_date, reason=reason)

    def success_message(self):
        return f"Ended the job {self.object}."


class EmploymentDeleteView(EmploymentActionMixin, ObjectActionView):
    permission_required = "members.delete_memberemployment"
    queryset = MemberEmployment.objects.filter(member__deleted_at__isnull=True).select_related(
        "member", "organization"
    )
    template_name = "members/employment_delete.html"
    action_label = "Delete job"
    button_class = "danger"

    def act(self, obj, reason):
        obj.delete(reason=reason)  # deleted for real; its attachments are soft-deleted with it

    def success_message(self):
        return f"Deleted the job {self.object}."
