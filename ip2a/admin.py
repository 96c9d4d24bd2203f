"""Shared Django admin machinery: the site's titles and the base classes every app's admin.py declares with.

- ``DomainAdmin``: import and export through the app's resources; exports are access-logged, imports need
  the add and change permissions and run under history source "import".
- ``SoftDeleteAdmin``: every row reachable through a "deleted" filter (live by default); no hard delete:
  the Delete page and the actions soft-delete or restore with a required reason.
- ``OwnedRowAdmin``: real deletes of owned hard rows, one ``Model.delete()`` per row.
- ``ReadOnlyAdmin`` and ``HistoryAdmin``: append-only records and pghistory event models, never edited.
- ``EstimatedCountPaginator``: big changelists never COUNT(*) a whole table.
"""

import pghistory
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import ActionLocation
from django.contrib.admin.utils import model_ngettext, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from import_export.admin import ExportMixin, ImportExportModelAdmin
from pghistory.admin import EventModelAdmin
from pghistory.admin.core import BackFilter, LabelFilter, ObjFilter

from audit.access import log_access
from audit.models import AccessAction, AuditSource
from ip2a.pagination import EstimatedCountPaginator

admin.site.site_header = "IP2A administration"
admin.site.site_title = "IP2A administration"
admin.site.index_title = "Site administration"

# At most this many rows are named on a confirmation page (the count covers the rest).
CONFIRMATION_MAX_LISTED = 50


class LargeTableMixin:
    """For tables of tens of thousands of rows and more: no full count beside the filtered one, an estimated
    count above EstimatedCountPaginator.exact_below rows, and no facet counts."""

    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator


class DeletedListFilter(admin.SimpleListFilter):
    """Live rows unless asked for deleted ones or all (the soft-delete admin's queryset holds every row)."""

    title = "deleted"
    parameter_name = "deleted"
    LIVE, DELETED, ALL = "live", "deleted", "all"

    def lookups(self, request, model_admin):
        return [(self.LIVE, "Live"), (self.DELETED, "Deleted"), (self.ALL, "All")]

    def current(self) -> str:
        """The chosen value; live when none (or an unknown one) was given."""
        return self.value() if self.value() in (self.DELETED, self.ALL) else self.LIVE

    def queryset(self, request, queryset):
        if self.current() == self.DELETED:
            return queryset.filter(deleted_at__isnull=False)
        if self.current() == self.ALL:
            return queryset
        return queryset.filter(deleted_at__isnull=True)

    def choices(self, changelist):
        """Offer live, deleted and all, with live selected by default (no separate "All" reset link)."""
        for value, label in self.lookup_choices:
            yield {
                "selected": self.current() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


class SourceListFilter(admin.SimpleListFilter):
    """History events by the source in their context (web, admin, import, repair…)."""

    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return AuditSource.choices

    def queryset(self, request, queryset):
        return queryset.filter(pgh_context__source=self.value()) if self.value() else queryset


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded in the history with the change.",
        error_messages={"required": "A reason is required."},
    )


class AccessLoggedExportMixin(ExportMixin):
    """Exports through the model's resource, allowed by ``export_permission`` (else the view permission) and
    written to the access log with their row count, like every portal export."""

    export_permission = ""

    def has_export_permission(self, request):
        """Whether the user may export this model's list."""
        if self.export_permission:
            return request.user.has_perm(self.export_permission)
        return self.has_view_permission(request)

    def get_data_for_export(self, request, queryset, **kwargs):
        """Build the export dataset and log the export with its row count."""
        dataset = super().get_data_for_export(request, queryset, **kwargs)
        log_access(request, action=AccessAction.EXPORT, queryset=queryset, rows=len(dataset))
        return dataset


class DomainAdmin(AccessLoggedExportMixin, ImportExportModelAdmin):
    """The base of every domain model's admin.

    ``resource_classes`` name the app's resources: import is offered when they are importable and the user
    holds the model's add and change permissions; every imported row is saved under history source "import"
    with the file name as reason. ``str_select_related`` lists the relations the model's ``__str__`` reads:
    they are joined on every queryset of the admin, autocomplete answers included.
    """

    str_select_related: tuple[str, ...] = ()

    def with_str_relations(self, queryset):
        """Join the relations __str__ reads, and those of ``list_select_related`` (the changelist skips its own
        when the queryset already selects some). Never a bare select_related(), which follows every FK."""
        if not self.str_select_related:
            return queryset
        listed = self.list_select_related if isinstance(self.list_select_related, list | tuple) else ()
        return queryset.select_related(*self.str_select_related, *listed)

    def get_queryset(self, request):
        return self.with_str_relations(super().get_queryset(request))

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "created_at", "updated_at"]

    def has_import_permission(self, request):
        """Import needs importable resources and the model's add and change permissions."""
        importable = all(
            getattr(resource, "importable", False) for resource in self.get_import_resource_classes(request)
        )
        return importable and self.has_add_permission(request) and self.has_change_permission(request)

    def process_dataset(self, dataset, form, request, **kwargs):
        """Run the confirmed import with source "import" and the file name as the history reason."""
        file_name = kwargs.get("file_name") or form.cleaned_data.get("original_file_name") or "a file"
        with pghistory.context(source=AuditSource.IMPORT.value, reason=f"admin import of {file_name}"):
            return super().process_dataset(dataset, form, request, **kwargs)


OPERATIONS = {
    "delete": {
        "title": "Soft-delete",
        "done": "Soft-deleted",
        "intro": "These rows will be hidden from every screen. They stay in the database and can be restored.",
        "none": "None of the selected rows is live; nothing was deleted.",
    },
    "restore": {
        "title": "Restore",
        "done": "Restored",
        "intro": "These rows will be shown again.",
        "none": "None of the selected rows is deleted; nothing was restored.",
    },
}


def error_text(exc: Exception) -> str:
    """One line for a failed soft delete or restore."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc).splitlines()[0]


class SoftDeleteAdmin(DomainAdmin):
    """Admin of a soft-delete model: never a hard delete.

    The queryset holds every row; ``DeletedListFilter`` (added to any ``list_filter``) shows live rows by
    default. The change page's Delete link and the "soft-delete" action hide rows, the Restore link and the
    "restore" action bring them back; both ask for a reason on an intermediate page, need the model's delete
    permission and put the reason on the history context. Deleted rows are read-only until restored.
    Subclasses override ``soft_delete_object`` / ``restore_object`` to apply their app's rules.
    """

    actions = ["soft_delete_selected", "restore_selected"]
    reason_template = "admin/reason_confirmation.html"

    def get_queryset(self, request):
        queryset = self.with_str_relations(self.model.all_objects.get_queryset())
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        return filters if DeletedListFilter in filters else [*filters, DeletedListFilter]

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        return columns if "deleted_at" in columns else [*columns, "deleted_at"]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "deleted_at"]

    def get_search_results(self, request, queryset, search_term):
        """Search as declared; autocomplete widgets never offer a soft-deleted row."""
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if request.resolver_match and request.resolver_match.url_name == "autocomplete":
            queryset = queryset.filter(deleted_at__isnull=True)
        return queryset, may_have_duplicates

    def get_actions(self, request, action_location=ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        actions.pop("delete_selected", None)
        return actions

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.deleted_at is not None:
            return False  # restore first
        return super().has_change_permission(request, obj)

    def delete_model(self, request, obj):
        raise PermissionDenied("Rows of this model are soft-deleted with a reason, never deleted.")

    def delete_queryset(self, request, queryset):
        raise PermissionDenied("Rows of this model are soft-deleted with a reason, never deleted.")

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_restore"
        restore = path("<path:object_id>/restore/", self.admin_site.admin_view(self.restore_view), name=name)
        return [restore, *super().get_urls()]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.deleted_at is not None:
            context["show_delete"] = False
            if self.has_delete_permission(request, obj):
                context["restore_url"] = reverse(
                    f"admin:{self.opts.app_label}_{self.opts.model_name}_restore", args=[obj.pk]
                )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- the two operations, with their hooks ---------------------------------------------------------------

    def soft_delete_object(self, request, obj, reason: str) -> None:
        """Soft-delete one row; override to apply the app's rules (raise ValidationError to refuse)."""
        obj.soft_delete(reason=reason)

    def restore_object(self, request, obj, reason: str) -> None:
        """Restore one row; override to apply the app's rules (raise ValidationError to refuse)."""
        obj.restore(reason=reason)

    @transaction.atomic
    def apply_with_reason(self, request, queryset, operation: str, reason: str) -> int:
        """Soft-delete or restore each row in its own savepoint; report the count and each refusal."""
        apply = self.soft_delete_object if operation == "delete" else self.restore_object
        done = 0
        for obj in queryset:
            try:
                with transaction.atomic():
                    apply(request, obj, reason)
            except (ValidationError, IntegrityError, ValueError) as exc:
                self.message_user(request, f"{obj}: {error_text(exc)}", messages.ERROR)
            else:
                done += 1
        if done:
            label = model_ngettext(self.opts, done)
            self.message_user(request, f"{OPERATIONS[operation]['done']} {done} {label}.", messages.SUCCESS)
        return done

    def confirm_with_reason(self, request, queryset, operation: str, *, hidden=(), cancel_url: str):
        """Ask for the reason on an intermediate page; once it is given, apply ``operation`` ("delete" or
        "restore") to the rows. Returns the page, or None when the work is done (the caller redirects)."""
        total = queryset.count()
        if not total:
            self.message_user(request, OPERATIONS[operation]["none"], messages.WARNING)
            return None
        form = ReasonForm(request.POST if "confirm" in request.POST else None)
        if form.is_valid():
            self.apply_with_reason(request, queryset, operation, form.cleaned_data["reason"])
            return None
        listed = list(queryset[:CONFIRMATION_MAX_LISTED])
        context = {
            **self.admin_site.each_context(request),
            "title": f"{OPERATIONS[operation]['title']} {model_ngettext(self.opts, total)}",
            "intro": OPERATIONS[operation]["intro"],
            "submit_label": OPERATIONS[operation]["title"],
            "opts": self.opts,
            "objects": listed,
            "more": total - len(listed),
            "form": form,
            "hidden": hidden,
            "cancel_url": cancel_url,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.reason_template, context)

    def action_hidden_fields(self, request, action: str) -> list[tuple[str, str]]:
        """The POST fields that bring the confirmation back to the same action on the same selection."""
        fields = [("action", action), ("index", "0"), ("select_across", request.POST.get("select_across", "0"))]
        return fields + [
            (helpers.ACTION_CHECKBOX_NAME, pk) for pk in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        ]

    @admin.action(description="Soft-delete selected %(verbose_name_plural)s", permissions=["delete"])
    def soft_delete_selected(self, request, queryset):
        return self.confirm_with_reason(
            request,
            queryset.filter(deleted_at__isnull=True),
            "delete",
            hidden=self.action_hidden_fields(request, "soft_delete_selected"),
            cancel_url=request.get_full_path(),
        )

    @admin.action(description="Restore selected %(verbose_name_plural)s", permissions=["delete"])
    def restore_selected(self, request, queryset):
        return self.confirm_with_reason(
            request,
            queryset.filter(deleted_at__isnull=False),
            "restore",
            hidden=self.action_hidden_fields(request, "restore_selected"),
            cancel_url=request.get_full_path(),
        )

    def delete_view(self, request, object_id, extra_context=None):
        """The change page's Delete link: a soft delete with a reason, never a hard delete."""
        return self.object_reason_view(request, object_id, "delete")

    def restore_view(self, request, object_id):
        """The change page's Restore link of a soft-deleted row."""
        return self.object_reason_view(request, object_id, "restore")

    def object_reason_view(self, request, object_id, operation: str):
        """One row's soft delete or restore: the reason page, then back to the list (delete) or the row."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_delete_permission(request, obj):
            raise PermissionDenied
        change_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[obj.pk])
        queryset = self.model.all_objects.filter(pk=obj.pk, deleted_at__isnull=operation == "delete")
        response = self.confirm_with_reason(request, queryset, operation, cancel_url=change_url)
        if response is not None:
            return response
        if operation == "delete":
            return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
        return HttpResponseRedirect(change_url)


class OwnedRowAdmin(DomainAdmin):
    """Admin of an owned hard row (employment, enrollment, attendance…): deletes are real but go row by row
    through ``Model.delete()``, which soft-deletes the row's attachments in the same transaction; the
    history keeps the deleted row."""

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        """Delete the selected rows one by one (never a bulk DELETE that would skip their attachments)."""
        for obj in queryset:
            obj.delete()


class ReadOnlyAdmin(admin.ModelAdmin):
    """An append-only record: listed and viewed, never added, changed or deleted."""

    actions = None

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class HistoryAdmin(LargeTableMixin, EventModelAdmin):
    """One tracked model's history events (pghistory), read-only and newest first, with who, source and
    reason from each event's context.

    The tracked row is prefetched, never joined: events outlive hard-deleted rows and `reset`. List the
    relations its ``__str__`` reads as ``pgh_obj__<relation>`` in ``list_prefetch_related``.
    """

    list_display = ("event_time", "event_label", "pgh_obj", "context_username", "context_source", "context_reason")
    list_filter = (LabelFilter, SourceListFilter, ObjFilter, BackFilter)
    list_select_related = ()  # not False: Django would then join every non-null foreign key
    list_prefetch_related: tuple[str, ...] = ("pgh_obj",)
    ordering = ("-pgh_id",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(*self.list_prefetch_related)

    @admin.display(description="time", ordering="pgh_created_at")
    def event_time(self, event):
        return event.pgh_created_at

    @admin.display(description="event", ordering="pgh_label")
    def event_label(self, event):
        return event.pgh_label

    @admin.display(description="user")
    def context_username(self, event):
        return (event.pgh_context or {}).get("username") or None

    @admin.display(description="source")
    def context_source(self, event):
        return (event.pgh_context or {}).get("source") or None

    @admin.display(description="reason")
    def context_reason(self, event):
        return (event.pgh_context or {}).get("reason") or None
