from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils.functional import cached_property
from django.views import View

from ip2a.rows import record_or_404
from ip2a.views import (
    FilteredListView,
    ObjectCreateView,
    ObjectDetailView,
    ObjectUpdateView,
    RestoreView,
    SoftDeleteView,
)
from members.models import MemberEmployment
from organizations.filters import OrganizationContactFilterSet, OrganizationFilterSet
from organizations.forms import (
    OrganizationContactCreateForm,
    OrganizationContactForm,
    OrganizationForm,
    OrganizationSaltingForm,
)
from organizations.models import Organization, OrganizationContact
from organizations.resources import OrganizationContactResource, OrganizationResource
from organizations.services import (
    contact_create,
    contact_make_primary,
    contact_restore,
    organization_restore,
    organization_soft_delete,
)

# The organization page lists at most this many current employees and says how many more there are.
EMPLOYEES_SHOWN = 100


class OrganizationListView(FilteredListView):
    permission_required = "organizations.view_organization"
    queryset = Organization.objects.for_list()
    filterset_class = OrganizationFilterSet
    resource_class = OrganizationResource
    export_permission = "organizations.export_organization"
    static_filter_form = True  # its filters read no choices from the database
    results_cache_models = (OrganizationContact,)  # the primary contact column
    content_checked = True

    def shown_querysets(self, rows):
        """The page's organizations and their primary contacts (the prefetch of for_list())."""
        return [rows, OrganizationContact.objects.filter(is_primary=True, organization__in=rows.values("pk"))]


class OrganizationDetailView(ObjectDetailView):
    permission_required = "organizations.view_organization"
    model = Organization

    def get_context_data(self, **kwargs):
        """Add the contacts (primary first), the first current employees and the past-employee count."""
        organization = self.object
        employments = MemberEmployment.objects.filter(organization=organization, member__deleted_at__isnull=True)
        current = list(
            employments.filter(is_current=True)
            .select_related("member")
            .order_by("member__last_name", "member__first_name", "pk")[: EMPLOYEES_SHOWN + 1]
        )
        current_total = len(current)
        if current_total > EMPLOYEES_SHOWN:
            current_total = employments.filter(is_current=True).count()
        past = (
            employments.filter(is_current=False)
            .exclude(member__in=employments.filter(is_current=True).values("member"))
            .aggregate(members=Count("member", distinct=True))["members"]
        )
        deleted_contacts = []
        if self.request.user.has_perm("organizations.delete_organizationcontact") and not organization.deleted_at:
            deleted_contacts = OrganizationContact.all_objects.filter(
                organization=organization, deleted_at__isnull=False
            ).order_by("-deleted_at", "pk")
        return super().get_context_data(
            contacts=OrganizationContact.objects.filter(organization=organization),
            deleted_contacts=deleted_contacts,
            current_employments=current[:EMPLOYEES_SHOWN],
            more_current_employees=max(current_total - EMPLOYEES_SHOWN, 0),
            past_employee_count=past,
            **kwargs,
        )


class OrganizationCreateView(ObjectCreateView):
    permission_required = "organizations.add_organization"
    model = Organization
    form_class = OrganizationForm
    template_name = "organizations/organization_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}


class OrganizationUpdateView(ObjectUpdateView):
    permission_required = "organizations.change_organization"
    model = Organization
    reads_live_record = True
    form_class = OrganizationForm
    template_name = "organizations/organization_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}


class OrganizationSaltingView(ObjectUpdateView):
    permission_required = ("organizations.view_organization", "organizations.change_salting")
    model = Organization
    reads_live_record = True
    form_class = OrganizationSaltingForm
    template_name = "organizations/organization_salting.html"

    def success_message(self):
        return f"Saved the salting score and notes of “{self.object}”."


class OrganizationDeleteView(SoftDeleteView):
    permission_required = "organizations.delete_organization"
    model = Organization
    template_name = "organizations/organization_confirm.html"

    def act(self, obj, reason):
        organization_soft_delete(organization=obj, reason=reason)


class OrganizationRestoreView(RestoreView):
    permission_required = "organizations.delete_organization"
    model = Organization
    template_name = "organizations/organization_confirm.html"

    def act(self, obj, reason):
        organization_restore(organization=obj, reason=reason)


class OrganizationContactListView(FilteredListView):
    permission_required = "organizations.view_organizationcontact"
    queryset = (
        OrganizationContact.objects.filter(organization__deleted_at__isnull=True)
        .select_related("organization")
        .order_by("last_name", "first_name", "pk")
    )
    filterset_class = OrganizationContactFilterSet
    resource_class = OrganizationContactResource
    export_permission = "organizations.export_organization"
    static_filter_form = True  # its one choice list (organizations) is kept by data version
    results_cache_models = ()  # every column comes from the list's own query


class OrganizationContactCreateView(ObjectCreateView):
    permission_required = "organizations.add_organizationcontact"
    model = OrganizationContact
    form_class = OrganizationContactCreateForm
    template_name = "organizations/organizationcontact_form.html"

    @cached_property
    def organization(self):
        return record_or_404(Organization, self.kwargs["pk"])

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["instance"] = OrganizationContact(organization=self.organization)
        return kwargs

    def get_context_data(self, **kwargs):
        return super().get_context_data(organization=self.organization, **kwargs)

    def save_form(self, form):
        fields = {name: form.cleaned_data[name] for name in OrganizationContactCreateForm.Meta.fields}
        return contact_create(organization=self.organization, **fields)

    def get_success_url(self):
        return self.organization.get_absolute_url()


class OrganizationContactUpdateView(ObjectUpdateView):
    permission_required = "organizations.change_organizationcontact"
    queryset = OrganizationContact.objects.select_related("organization")
    model = OrganizationContact
    form_class = OrganizationContactForm
    template_name = "organizations/organizationcontact_form.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(organization=self.object.organization, **kwargs)

    def get_success_url(self):
        return self.object.organization.get_absolute_url()


class OrganizationContactMakePrimaryView(PermissionRequiredMixin, View):
    """Make one contact the primary one (POST only; the organization page has the button)."""

    permission_required = "organizations.change_organizationcontact"
    http_method_names = ["post"]

    def post(self, request, pk):
        contact = get_object_or_404(OrganizationContact.objects.select_related("organization"), pk=pk)
        try:
            contact_make_primary(contact=contact)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{contact} is now the primary contact of {contact.organization}.")
        return HttpResponseRedirect(contact.organization.get_absolute_url())


class OrganizationContactDeleteView(SoftDeleteView):
    permission_required = "organizations.delete_organizationcontact"
    model = OrganizationContact

    template_name = "organizations/organizationcontact_confirm.html"

    def get_success_url(self):
        return self.object.organization.get_absolute_url()


class OrganizationContactRestoreView(RestoreView):
    permission_required = "organizations.delete_organizationcontact"
    model = OrganizationContact

    template_name = "organizations/organizationcontact_confirm.html"

    def act(self, obj, reason):
        contact_restore(contact=obj, reason=reason)

    def get_success_url(self):
        return self.object.organization.get_absolute_url()
