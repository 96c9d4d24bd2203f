"""The audit pages (DOMAIN.md §6): the global history log, each record's history tab and the access log.

History spans one event table per tracked model, so its pages are not querysets: they read a page of
entries through ``audit.timeline`` and paginate lazily (one row more than the page says whether there is
a next page; nothing is counted).
"""

import contextlib
import itertools
import logging
import tempfile

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.cache import patch_vary_headers
from django.utils.functional import cached_property
from django.views.generic import TemplateView

from audit.access import log_access
from audit.filters import AccessLogFilterSet, HistoryFilterSet
from audit.models import AccessAction, AccessLog
from audit.resources import AccessLogResource, HistoryEntryResource
from audit.timeline import build_entries, export_events, may_see_deleted, read_events, record_scopes
from ip2a import routers
from ip2a.resources import write_xlsx
from ip2a.views import EXPORT_TYPES, FilteredListView, model_permission

logger = logging.getLogger(__name__)

MAX_PAGES = 200  # 10,000 events deep; further back, narrow the filters (each page reads every table that far)
EXPORT_LIMIT = 100_000  # rows in one history export
EXPORT_CHUNK = 2_000  # events described and written at a time in a streamed export


def may_view_history(user, model) -> bool:
    """The history tab rule (DOMAIN.md §5): the global-log permission on every record, or the history
    permission on records whose model the user may change."""
    if user.has_perm("audit.view_global_log"):
        return True
    return user.has_perm("audit.view_history") and user.has_perm(model_permission(model, "change"))


class HistoryPageMixin:
    """A page of history entries: lazy pagination through ``?page=``, the "table" partial for htmx."""

    paginate_by = 50
    reads_from_replica = True  # history pages and the log's export (ip2a/routers.py)

    @cached_property
    def page_number(self) -> int:
        try:
            number = int(self.request.GET.get("page") or 1)
        except ValueError:
            raise Http404("No such page.") from None
        if not 1 <= number <= MAX_PAGES:
            raise Http404("No such page.")
        return number

    def history_scopes(self) -> dict:
        raise NotImplementedError

    def history_action(self) -> str | None:
        return None

    def page_context(self) -> dict:
        """The page's entries and its neighbours (``has_next`` comes from reading one entry more)."""
        start = (self.page_number - 1) * self.paginate_by
        events, more = read_events(
            self.history_scopes(), start=start, stop=start + self.paginate_by, action=self.history_action()
        )
        return {
            "entries": build_entries(events, user=self.request.user),
            "page_number": self.page_number,
            "has_previous": self.page_number > 1,
            "has_next": more and self.page_number < MAX_PAGES,
            "max_pages": MAX_PAGES,
        }

    def get_template_names(self):
        names = super().get_template_names()
        if self.request.htmx and not self.request.htmx.history_restore_request:
            return [f"{name}#table" for name in names]
        return names

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        patch_vary_headers(response, ["HX-Request"])  # one URL, two different bodies
        return response


class HistoryListView(PermissionRequiredMixin, HistoryPageMixin, TemplateView):
    """The global history log: every tracked model's events, filtered, newest first; exportable."""

    permission_required = "audit.view_global_log"
    template_name = "audit/history_list.html"
    export_permission = "audit.export_history"

    @cached_property
    def filter(self):
        data = self.request.GET.copy()
        for key in ("page", "export"):
            data.pop(key, None)
        return HistoryFilterSet(data, user=self.request.user)

    def history_scopes(self):
        return self.filter.scopes()

    def history_action(self):
        return self.filter.action()

    def export_format(self):
        """The export format asked for (None for the page); 403 without the export permission."""
        fmt = self.request.GET.get("export")
        if fmt not in EXPORT_TYPES:
            return None
        if not self.request.user.has_perm(self.export_permission):
            raise PermissionDenied("Your role may not export the history log.")
        return fmt

    def get(self, request, *args, **kwargs):
        if not self.filter.is_valid():
            context = self.get_context_data(entries=[], page_number=1, has_previous=False, has_next=False)
            return self.render_to_response(context, status=400)
        if fmt := self.export_format():
            return self.export(fmt)
        return self.render_to_response(self.get_context_data(**self.page_context()))

    def get_context_data(self, **kwargs):
        can_export = self.request.user.has_perm(self.export_permission)
        return super().get_context_data(
            filter=self.filter,
            export_formats=list(EXPORT_TYPES) if can_export else [],
            export_limit=EXPORT_LIMIT,
            model_meta={"verbose_name_plural": "history events"},
            **kwargs,
        )

    def export(self, fmt: str) -> HttpResponse:
        """The filtered log as a file (at most EXPORT_LIMIT rows, newest first), written to the access log.

        A CSV file is streamed: EXPORT_CHUNK events at a time are read, described and written, so an export of
        the whole log never holds it in memory (docs/benchmarks.md, session 22). Its rows are counted first
        (audit.timeline.export_events): events written after that are left out, and the file holds exactly the
        rows the access log counts. A spreadsheet is a zip written at the end: it is built in a temporary file,
        EXPORT_CHUNK events at a time, and sent from there."""
        user = self.request.user
        rows, more, events = export_events(self.history_scopes(), limit=EXPORT_LIMIT, action=self.history_action())
        log_access(self.request, action=AccessAction.EXPORT, rows=rows, label="History log")
        headers = {"Content-Disposition": f'attachment; filename="history-log.{fmt}"'}
        if more:
            headers["X-Export-Truncated"] = f"only the newest {EXPORT_LIMIT} rows"
        if fmt == "csv":
            content = history_csv(events, user=user, from_replica=routers.reading_from_replica())
            return StreamingHttpResponse(content, content_type=EXPORT_TYPES[fmt], headers=headers)
        return FileResponse(history_xlsx(events, user=user), content_type=EXPORT_TYPES[fmt], headers=headers)


def entry_datasets(events, *, user):
    """History events (audit.timeline.export_events) described as HistoryEntryResource datasets, EXPORT_CHUNK
    events each, so an export holds one chunk's entries at a time."""
    for chunk in itertools.batched(events, EXPORT_CHUNK):
        yield HistoryEntryResource().export(queryset=build_entries(list(chunk), user=user))


def history_csv(events, *, user, from_replica: bool):
    """The CSV text of history events, a chunk at a time (entry_datasets): the same text as HistoryEntryResource's
    export of them all at once. The chunks are read after the view has returned, outside
    ip2a.routers.ReplicaMiddleware: ``from_replica`` says whether the view read from the replica, and so whether
    they do too. An error once the first bytes are sent cannot become an error page: it is logged and the
    download ends short."""
    datasets = entry_datasets(events, user=user)
    written = 0
    while True:
        try:
            with routers.replica_reads() if from_replica else contextlib.nullcontext():
                dataset = next(datasets, None)  # reads and describes the next events
        except Exception:
            logger.exception("The history export for %s failed after %d rows.", user.get_username(), written)
            raise
        if dataset is None:
            if not written:  # an export of no events: the column names alone
                yield HistoryEntryResource().export(queryset=[]).export("csv")
            return
        text = dataset.export("csv")
        yield text.split("\r\n", 1)[1] if written else text  # the column names once
        written += len(dataset)


def history_xlsx(events, *, user):
    """A spreadsheet of history events in a temporary file, ready to send, written a chunk at a time
    (entry_datasets, ip2a.resources.write_xlsx): neither the entries nor the cells are held all at once (a
    100,000-row export built whole by tablib peaked at 623 MB)."""
    headers = HistoryEntryResource().export(queryset=[]).headers
    file = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it once sent)
    try:
        write_xlsx(file, headers, entry_datasets(events, user=user), title="History log")
    except BaseException:
        file.close()
        raise
    file.seek(0)
    return file


class RecordHistoryView(PermissionRequiredMixin, HistoryPageMixin, TemplateView):
    """One record's history tab: its events and those of the rows it owns (audit.timeline.OWNED), with
    field diffs. Set ``model``; deleted records keep their history and are shown too."""

    model = None
    template_name = "audit/record_history.html"

    def has_permission(self):
        return may_view_history(self.request.user, self.model)

    @cached_property
    def object(self):
        """The record; a soft-deleted one only for users who may see it (its page's rule)."""
        deleted_too = may_see_deleted(self.request.user, self.model)
        manager = self.model._base_manager if deleted_too else self.model._default_manager
        return get_object_or_404(manager, pk=self.kwargs["pk"])

    def history_scopes(self):
        return record_scopes(self.object, user=self.request.user)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            object=self.object,
            record_label=self.model._meta.label_lower,
            record_type=self.model._meta.verbose_name,
            record_url=self.object.get_absolute_url() if hasattr(self.object, "get_absolute_url") else None,
            **self.page_context(),
            **kwargs,
        )


def record_history_path(route: str, model, name: str):
    """The route of ``model``'s history tab, e.g.
    ``record_history_path("students/<int:pk>/history/", Student, "student_history")``."""
    return path(route, RecordHistoryView.as_view(model=model), name=name)


class AccessLogListView(FilteredListView):
    """The access log (admins): who viewed, exported or downloaded personal data; exporting it is logged too."""

    permission_required = "audit.view_accesslog"
    queryset = AccessLog.objects.select_related("target_type")
    filterset_class = AccessLogFilterSet
    resource_class = AccessLogResource
    export_permission = "audit.view_accesslog"
    template_name = "audit/accesslog_list.html"
