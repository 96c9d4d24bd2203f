"""Project-level views and the shared machinery every app's pages are declared with.

- ``FilteredListView``: one model's list — filtered, searched and sorted by its FilterSet, paginated without
  counting a whole large table, refreshed by htmx (the template's "table" partial), and exported (CSV/XLSX)
  exactly as filtered, through the app's resource, into the access log.
- ``ObjectDetailView``: a record's page; views of personal data are access-logged.
- ``ObjectCreateView`` / ``ObjectUpdateView``: ModelForm pages saved in one transaction, with the database's
  refusals shown as form errors and an optional or required reason kept in the history.
- ``SoftDeleteView`` / ``RestoreView``: confirmation pages asking for the reason.
- The ``healthz`` / ``readyz`` probes and the admin's login URL (the dashboard lives in ``ip2a/dashboard.py``).
"""

import contextlib
import re
from collections import OrderedDict
from typing import NamedTuple

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet, PermissionDenied, ValidationError
from django.core.paginator import InvalidPage, Paginator
from django.db import DatabaseError, IntegrityError, connections, router, transaction
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.generic import CreateView, DetailView, FormView, UpdateView
from django.views.generic.list import MultipleObjectMixin
from django_filters.filters import QuerySetRequestMixin
from django_filters.views import FilterView

from audit.access import log_access
from audit.history import history_reason
from audit.timeline import record_version_scopes
from ip2a.auth import grants
from ip2a.caching import (
    CACHE_SECONDS,
    data_versions,
    epoch,
    keep,
    query_versions,
    record_versions,
    remember,
    sql_event_tables,
    sql_versions,
    table_versions,
    tracked_tables,
    version_key,
)
from ip2a.content import check_statement, one_snapshot, run_check
from ip2a.forms import ReasonForm, integrity_error_message, reason_field
from ip2a.pagination import EstimatedCountPaginator
from ip2a.resources import export_bytes
from ip2a.roles import INSTRUCTOR
from ip2a.routers import REPLICA
from ip2a.rows import record_or_404

# Rendered filter form fields (static_filter_form), per process: the key holds everything a field's HTML depends
# on (data versions included), so an entry never goes stale and needs no invalidation; the oldest entries go
# once FILTER_FORMS_KEPT are held.
FILTER_FORMS_KEPT = 1000
_filter_forms: OrderedDict = OrderedDict()

# Kept list pages (FilteredListView.kept_page), per process: what a page's cache key holds besides the data
# versions, and which tables those are, found by the page's last full render; the oldest go once PAGES_KEPT
# are held. The key of an entry holds everything its parts depend on (role set, query, day, cache epoch).
PAGES_KEPT = 2000
_kept_pages: OrderedDict = OrderedDict()
# base.html wraps a page's content in these when the view asks (kept_markers), so the content can be kept apart
# from the header, which holds the user's name and CSRF token.
CONTENT_START, CONTENT_END = "<!--kept-content-->", "<!--/kept-content-->"
TITLE_RE = re.compile(r"<title>(.*?) · IP2A</title>", re.S)
KEPT_PAGE_TEMPLATE = "generic/kept_page.html"
# The list footer (count, pages, exports) between these: a page kept by its rows' content (ContentCheckedPage)
# holds FOOTER_SLOT in its place, and the footer is rendered for each request from the count of that moment.
FOOTER_TEMPLATE = "includes/list_footer.html"
FOOTER_START, FOOTER_END, FOOTER_SLOT = "<!--list-footer-->", "<!--/list-footer-->", "<!--list-footer-slot-->"
FOOTERS_KEPT = 2000  # rendered footers per process (footer_html): a function of their key alone
_footers: OrderedDict = OrderedDict()


class ContentCheckedPage(NamedTuple):
    """What a worker remembers of a list page kept by its rows' content (FilteredListView.content_checked)."""

    parts: tuple  # what the kept content depends on besides the rows and the filter form's choice lists
    tables: frozenset  # the event tables of the filter form's choice lists, whose data versions key it too
    row_tables: frozenset  # the event tables of the rows' tables (empty when one has no history)
    sql: str  # the check statement (ip2a.content.check_statement) and its parameters
    params: tuple
    number: int  # the page number it showed


EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def checked_memo_key(memo_key: tuple) -> str:
    """The shared-cache key of what a list page kept by content is keyed on (a ContentCheckedPage, stored as a
    plain tuple). Its fields are part of the key, so a release that changes them never reads a note an earlier
    one left in the cache."""
    return version_key("checked-page", ContentCheckedPage._fields, memo_key, versions={})


def cut_kept_content(response) -> tuple[str, str] | None:
    """(title, content) of a rendered page whose content base.html wrapped in the kept markers, the markers
    taken out of the response; None for a page without them."""
    html = response.content.decode()
    start, end = html.find(CONTENT_START), html.find(CONTENT_END)
    title = TITLE_RE.search(html)
    if start < 0 or end < 0 or title is None:
        return None
    content = html[start + len(CONTENT_START) : end]
    response.content = html[:start] + content + html[end + len(CONTENT_END) :]
    return title.group(1), content


def model_permission(model, action: str) -> str:
    """``"<app_label>.<action>_<model>"`` for a model class."""
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


class FilteredListView(PermissionRequiredMixin, FilterView):
    """One model's list: filtered by its FilterSet, paginated, refreshable by htmx, exportable."""

    paginate_by = 50
    paginator_class = EstimatedCountPaginator
    reads_from_replica = True  # its GETs, exports included (ip2a/routers.py)
    template_name_suffix = "_list"  # FilterView's default is "_filter"
    resource_class = None  # a ModelResource; setting it allows ?export=csv and ?export=xlsx
    export_permission = None  # e.g. "members.export_member"
    # True when the filter form is a function of the query string, the set of filters and the choice lists of
    # its model-choice fields (no other choices read from the database): each field is then rendered once per
    # distinct value of it and data version of those lists, per process (filter_form_html).
    static_filter_form = False
    # Keep the rendered results (table, count, pages) in the shared cache under the data versions of every
    # table the list's query reads plus these models (what its prefetches and rows show besides); None: never.
    # Set only where the results depend on nothing else but the query string, the role set and the date.
    results_cache_models = None
    # True when everything the results show besides the count comes from shown_querysets(): a kept page is then
    # checked against those rows' values (ip2a.content) instead of the data versions of whole tables, so writes
    # to other rows of the same tables leave it served. Only for lists of up to the paginator's exact_below rows.
    content_checked = False

    def export_format(self):
        """Return the export format asked for (None for an HTML response); 403 without the export permission."""
        fmt = self.request.GET.get("export")
        if not fmt or not self.resource_class:
            return None
        if fmt not in EXPORT_TYPES:
            return None
        if not self.can_export():
            raise PermissionDenied("Your role may not export this list.")
        return fmt

    def can_export(self) -> bool:
        return bool(
            self.resource_class and self.export_permission and self.request.user.has_perm(self.export_permission)
        )

    def get_paginator(self, queryset, per_page, *args, **kwargs):
        """The paginator; for a page kept by content, with the count its check statement read (the check
        replaces the count queries)."""
        paginator = super().get_paginator(queryset, per_page, *args, **kwargs)
        paginator.known_versions = getattr(self, "results_versions", None)
        if self.content_checked and self.page_memo_key() is not None:
            asked = self.asked_page()
            number = int(asked) if str(asked).isdigit() else 0  # "last" needs the count: checked after paging
            # Past the last page a list kept by content can have, the page is a 404 (or too large to keep).
            if 1 <= number <= EstimatedCountPaginator.exact_below // per_page + 1:
                # kept_checked_page's check, in this snapshot. Its statement is the shared note's, the one this
                # render would write for the same query and page: notes are written by this release alone (the
                # shared cache's keys start with the release, settings.RELEASE).
                checked = getattr(self, "checked_before", None)
                if checked is not None and checked[0] == number:
                    self.content_check = checked[1]
                else:
                    self.content_check = self.read_content_check(paginator, number)
                if self.content_check is not None:
                    paginator.count = self.content_check[2]  # Paginator.count is a cached property
        return paginator

    def get_paginate_by(self, queryset):
        """Paginate HTML only: an export holds every filtered row."""
        return None if self.export_format() else self.paginate_by

    def get_template_names(self):
        """Use the template's "table" partial when htmx refreshes the results."""
        names = super().get_template_names()
        if self.request.htmx and not self.request.htmx.history_restore_request:
            return [f"{name}#table" for name in names]
        return names

    def get(self, request, *args, **kwargs):
        with contextlib.ExitStack() as self.snapshot:
            kept = self.kept_page()
            if kept is not None:
                return kept
            if self.content_checked and self.page_memo_key() is not None:
                self.enter_snapshot()
            response = super().get(request, *args, **kwargs)
            if self.filterset.is_bound and not self.filterset.is_valid():
                response.status_code = 400  # malformed filter values: say so, never show "no rows" as if valid
            else:
                self.remember_page(response)
        return response

    def enter_snapshot(self) -> None:
        """Read everything from here to the end of the request in one snapshot (ip2a.content.one_snapshot):
        a page kept by content is rendered in the same snapshot as its check statement, so the content kept
        under the check's digests is the content of the rows it read. Entered before the check when the check
        must run, so that on a miss the full render reuses the check instead of running it again."""
        if not getattr(self, "in_snapshot", False):
            self.snapshot.enter_context(one_snapshot(self.rows_alias()))
            self.in_snapshot = True

    def query_items(self) -> tuple:
        """The whole query string as a sorted tuple: part of every key a kept page, its results or its footer
        is found by."""
        return tuple(sorted((name, tuple(values)) for name, values in self.request.GET.lists()))

    def asked_page(self):
        """The page the request asks for, as MultipleObjectMixin.paginate_queryset reads it (a number or "last")."""
        return self.kwargs.get(self.page_kwarg) or self.request.GET.get(self.page_kwarg) or 1

    def rows_alias(self) -> str:
        """The database the list's rows are read from (the router's choice: a replica on GETs)."""
        return router.db_for_read(self.filterset_class._meta.model)

    def shown_querysets(self, rows) -> list:
        """Everything a content-checked list's results show besides the count, as querysets, given the page's
        rows (the filtered list sliced to the page): by default those rows (a view whose rows show prefetched
        objects adds their querysets)."""
        return [rows]

    def page_memo_key(self) -> tuple | None:
        """What a kept page depends on besides the data: view, path, whole query string, full page or htmx
        partial, role set, day and cache epoch; None for requests never served from a kept page (exports,
        instructors, whose lists depend on their own cohorts, and lists that keep nothing). Worked out once per
        request (the epoch is a shared-cache read)."""
        if "_page_memo_key" not in self.__dict__:
            self._page_memo_key = self._read_page_memo_key()
        return self._page_memo_key

    def _read_page_memo_key(self) -> tuple | None:
        request = self.request
        if self.results_cache_models is None or not self.static_filter_form or "export" in request.GET:
            return None
        user = request.user
        user_grants = grants(user)
        if INSTRUCTOR in user_grants.roles:
            return None
        partial = bool(request.htmx and not request.htmx.history_restore_request)
        query = self.query_items()
        scope = (user_grants.digest, user.is_superuser)
        return (type(self).__qualname__, request.path, query, partial, scope, timezone.localdate(), epoch())

    def kept_page(self) -> HttpResponse | None:
        """The page from the shared cache, without building the FilterSet, compiling the list's SQL or rendering
        anything but the header: possible once this process has rendered the same page (same query and role
        set) in full, and served while the data versions of every table it shows are unchanged. The kept part
        is the content under the header (for htmx refreshes, the results); the header, with any message waiting
        for the user, is rendered for the user."""
        memo_key = self.page_memo_key()
        found = _kept_pages.get(memo_key) if memo_key else None
        if found is None and memo_key and self.content_checked:
            noted = cache.get(checked_memo_key(memo_key))  # noted by another worker
            if noted is not None:
                found = ContentCheckedPage(*noted)
                remember(_kept_pages, memo_key, found, PAGES_KEPT)
        self.kept_note = found
        if found is None:
            return None
        if isinstance(found, ContentCheckedPage):
            return self.kept_checked_page(found, partial=memo_key[3])
        parts, tables = found
        versions = table_versions(tables, using=self.rows_alias())
        kept = cache.get(version_key(*parts, versions=versions))
        if kept is None:
            self.kept_versions = versions  # read before any row, so the full render may key on them too
            return None
        if memo_key[3]:  # an htmx refresh: the results alone
            response = HttpResponse(kept)
        else:
            title, content = kept
            context = {"kept_title": mark_safe(title), "kept_content": mark_safe(content)}  # noqa: S308 (rendered by us)
            response = render(self.request, KEPT_PAGE_TEMPLATE, context)
        patch_vary_headers(response, ["HX-Request"])
        return response

    def kept_checked_page(self, found: ContentCheckedPage, *, partial: bool) -> HttpResponse | None:
        """kept_page() for a list kept by content: the page is served when content with the digest of the rows
        it shows (and the filter form's choice lists at their data versions) is kept and the query still asks
        for the same page number, with its footer rendered anew for the count.

        First the data versions of the rows' tables are read (one statement, as for a page kept by versions):
        while none has moved, the content and count kept under them are served without the check statement,
        which costs the database the count and the page's rows. Otherwise the check statement decides. Versions
        are read before the check, so content found by the check and kept under them is never older than
        they are."""
        using = self.rows_alias()
        tables = found.tables | found.row_tables
        versions = table_versions(tables, using=using) if tables else {}
        unchanged_key = version_key(*found.parts, "unchanged", versions=versions) if found.row_tables else None
        unchanged = cache.get(unchanged_key) if unchanged_key else None
        if unchanged is not None:
            kept, count = unchanged
        else:
            self.enter_snapshot()
            count, digests = run_check(using, found.sql, found.params)
            if count > EstimatedCountPaginator.exact_below:
                self.checked_before = (found.number, None)
                return None
            choice_versions = {name: versions[name] for name in found.tables}
            kept = cache.get(version_key(*found.parts, digests, versions=choice_versions))
            if kept is None:
                # The full render, in this snapshot, shows the rows this check read: it keeps their content.
                self.checked_before = (found.number, (found.sql, tuple(found.params), count, digests, found.number))
                return None
            if unchanged_key:
                keep(unchanged_key, (kept, count))  # under writes the versions move on every request: kept twice
        paginator = Paginator(range(count), self.paginate_by, self.get_paginate_orphans(), self.get_allow_empty())
        page = self.kept_page_of(paginator)
        if page is None or page.number != found.number:
            return None  # out of range now, or "last" is another page: the full render answers it
        if partial:
            response = HttpResponse(kept)
        else:
            title, content = kept
            context = {"kept_title": mark_safe(title), "kept_content": mark_safe(content)}  # noqa: S308 (rendered by us)
            response = render(self.request, KEPT_PAGE_TEMPLATE, context)
        footer = self.footer_html(paginator, page).encode()
        response.content = response.content.replace(FOOTER_SLOT.encode(), footer, 1)
        patch_vary_headers(response, ["HX-Request"])
        return response

    def kept_page_of(self, paginator):
        """The page the query asks for, found as MultipleObjectMixin.paginate_queryset finds it; None where
        that would answer 404."""
        asked = self.asked_page()
        try:
            number = int(asked)
        except ValueError:
            if asked != "last":
                return None
            number = paginator.num_pages
        try:
            return paginator.page(number)
        except InvalidPage:
            return None

    def footer_html(self, paginator, page) -> str:
        """The list footer for this request (a plain Context: the footer reads no context processor), rendered
        once per query string, count, page and export permission in this process."""
        can_export = self.can_export()
        query = self.query_items()
        key = (query, paginator.count, paginator.per_page, page.number, can_export)
        html = _footers.get(key)
        if html is None:
            context = Context(
                {"page_obj": page, "paginator": paginator, "export_formats": list(EXPORT_TYPES) if can_export else []}
            )
            context.request = self.request  # {% querystring %} starts from request.GET
            html = get_template(FOOTER_TEMPLATE).template.render(context)
            html = html[html.index(FOOTER_START) : html.index(FOOTER_END) + len(FOOTER_END)]
            remember(_footers, key, html, FOOTERS_KEPT)
        return html

    def read_content_check(self, paginator, number: int) -> tuple | None:
        """(check statement, its parameters, count, digests, page number) for page ``number`` of the list being
        rendered, read in its snapshot; None for a list too large to count, with no rows possible, or
        paginated with orphans.

        The page's rows are sliced here as [start, start + page size): the same rows as the paginator's slice,
        which ends at the count on the last page, but a statement that stays right when the count changes."""
        if paginator.orphans:
            return None
        start = (number - 1) * paginator.per_page
        rows = paginator.object_list[start : start + paginator.per_page]
        try:
            sql, params = check_statement(
                paginator.object_list, self.shown_querysets(rows), EstimatedCountPaginator.exact_below + 1
            )
        except EmptyResultSet:
            return None
        count, digests = run_check(self.rows_alias(), sql, params)
        if count > EstimatedCountPaginator.exact_below:
            return None
        return sql, tuple(params), count, digests, number

    def remember_checked_page(self, response, memo_key) -> None:
        """remember_page() for a list kept by content: the content (the results alone for an htmx refresh) with
        its footer cut out, under its rows' digests and its choice lists' data versions. The note of what its
        key is made of goes to the shared cache at the first render, the content at the next render of the
        same page by any worker (a search asked for once costs one write): from then on every worker serves it.
        A key made of the rows shown stays good while other rows change, so the shared note is what decides
        (keep() writes a key only when the same worker is asked for it again)."""
        check = getattr(self, "content_check", None)
        form = getattr(self, "filter_form_parts", None)
        if check is None or (form is None and not memo_key[3]):
            return
        sql, params, count, digests, number = check
        choices, versions = form if form is not None else ((), {})
        response.render()
        if memo_key[3]:
            kept = response.content.decode()
        else:
            page = cut_kept_content(response)
            if page is None:
                return
            title, kept = page
        start, end = kept.find(FOOTER_START), kept.find(FOOTER_END)
        if start < 0 or end < 0:
            return
        kept = kept[:start] + FOOTER_SLOT + kept[end + len(FOOTER_END) :]
        parts = ("checked", memo_key, sql, tuple(map(repr, params)), choices)
        row_tables = sql_event_tables([sql]) or frozenset()
        found = ContentCheckedPage(parts, frozenset(versions), row_tables, sql, params, number)
        noted = getattr(self, "kept_note", None)  # what kept_page() found noted, here or by another worker
        if noted is not None:
            kept = kept if memo_key[3] else (title, kept)
            cache.set(version_key(*parts, digests, versions=versions), kept, CACHE_SECONDS)
            if row_tables:  # read in this render's snapshot, so they are the versions of what it showed
                row_versions = table_versions(row_tables, using=self.rows_alias())
                keep(version_key(*parts, "unchanged", versions={**row_versions, **versions}), (kept, count))
        if noted != found:
            cache.set(checked_memo_key(memo_key), tuple(found), CACHE_SECONDS)
        remember(_kept_pages, memo_key, found, PAGES_KEPT)

    def remember_page(self, response) -> None:
        """After a full render: keep the page's content (an htmx refresh's results are kept already, under the
        results key; a list kept by content keeps both as remember_checked_page says) and note in this process
        what its key is made of, for kept_page()."""
        memo_key = self.page_memo_key()
        if memo_key is not None and self.content_checked and response.status_code == 200:
            self.remember_checked_page(response, memo_key)
            return
        results = getattr(self, "results_parts", None)
        form = getattr(self, "filter_form_parts", None)
        if memo_key is None or results is None or response.status_code != 200:
            return
        if memo_key[3]:
            parts, versions = results, self.results_versions
        else:
            if form is None:
                return
            response.render()
            page = cut_kept_content(response)
            if page is None:
                return
            choices, choice_versions = form
            parts = ("page", results, choices)
            versions = {**self.results_versions, **choice_versions}
            keep(version_key(*parts, versions=versions), page)
        remember(_kept_pages, memo_key, (parts, frozenset(versions)), PAGES_KEPT)

    def get_context_data(self, **kwargs):
        """Add the export formats the user may use, the model's names, the filter form once rendered and the
        results once rendered (``results_html``; from the cache when the data they show has not changed)."""
        key = None if self.content_checked else self.results_key()  # kept by content: the page is, whole
        results_html = cache.get(key) if key else None
        if results_html is None:
            context = super().get_context_data(**kwargs)  # paginates: the count and the page's rows
            if not self.export_format():
                self.prepare_results(context)
                page = context.get("page_obj")
                checked = self.content_checked and self.page_memo_key() is not None
                if checked and page is not None and getattr(self, "content_check", None) is None:
                    self.content_check = self.read_content_check(context["paginator"], page.number)
        else:
            context = super(MultipleObjectMixin, self).get_context_data(**kwargs)  # no query at all
        context["export_formats"] = list(EXPORT_TYPES) if self.can_export() else []
        context["model_meta"] = self.filterset_class._meta.model._meta
        if key and results_html is None:
            page_template = self.get_template_names()[0].split("#")[0]
            results_html = get_template(f"{page_template}#table").render(context, self.request)
            keep(key, results_html)
        if results_html is not None:
            context["results_html"] = results_html
        if self.static_filter_form and not self.request.htmx:  # an htmx refresh renders only the results
            context["filter_form_html"] = self.filter_form_html()
            context["kept_markers"] = self.page_memo_key() is not None
        return context

    def prepare_results(self, context) -> None:
        """Put derived values on the page's rows before they are rendered (not called when the rendered
        results come from the cache)."""

    def results_key(self) -> str | None:
        """The cache key of this request's results: the view, path and whole query string (page and sort
        included), the role set, the list's SQL (which holds any per-user scoping), today, and the data
        versions of what they show; None when not kept."""
        if self.results_cache_models is None or self.export_format():
            return None
        if self.filterset.is_bound and not self.filterset.is_valid():
            return None
        try:
            sql, params = self.object_list.query.sql_with_params()
        except EmptyResultSet:
            return None
        known = getattr(self, "kept_versions", None)  # kept_page() read them this request
        versions = sql_versions([sql], also=self.results_cache_models, using=self.object_list.db, known=known)
        if versions is None:
            return None
        self.results_versions = versions
        user = self.request.user
        query = self.query_items()
        scope = (grants(user).digest, user.is_superuser)  # what the user may do (links, columns), not who
        rows = (sql, tuple(map(repr, params)))
        parts = ("results", type(self).__qualname__, self.request.path, query, scope, rows, timezone.localdate())
        self.results_parts = parts
        return version_key(*parts, versions=versions)

    def filter_form_html(self) -> str:
        """The filter form's fields as HTML (generic/filter_fields.html: each field's as_field_group(), in order),
        each field rendered once per FilterSet, set of filters (which may depend on the user's permissions),
        choice lists and that field's own values in the query string, in this process: a search renders its
        search box anew and keeps the other fields. A model-choice field's list counts by its query (scoped per
        user where it is) and the data versions of the tables it reads; a form whose choice lists read a table
        without history, or whose values are invalid (a 400 page), is rendered every time."""
        choices, querysets = [], []
        for name, declared in self.filterset.filters.items():
            if isinstance(declared, QuerySetRequestMixin):  # model choice filters: their list comes from a query
                queryset = declared.get_queryset(self.request)
                try:
                    sql, params = queryset.query.sql_with_params()
                except EmptyResultSet:  # an empty choice list
                    sql, params = "none", ()
                choices.append((name, sql, tuple(map(repr, params))))
                querysets.append(queryset)
        versions = query_versions(*querysets, known=getattr(self, "results_versions", None)) if querysets else {}
        form = self.filterset.form
        if versions is None or (form.is_bound and not form.is_valid()):
            return render_to_string("generic/filter_fields.html", {"filter": self.filterset})
        self.filter_form_parts = (tuple(choices), versions)  # what a kept page's key needs of the form
        filters, versions_key = tuple(self.filterset.filters), tuple(sorted(versions.items()))
        # Bound or not: an unbound form shows each field's initial value, a bound one what the query gives.
        shared = (self.filterset_class, filters, tuple(choices), versions_key, form.is_bound)
        query = self.request.GET
        parts = []
        for field in form:
            name = field.html_name
            # What its widget reads: its own name, and name_<suffix> for a widget of several inputs (a range).
            read = [key for key in query if key == name or key.startswith(f"{name}_")]
            values = tuple((key, tuple(query.getlist(key))) for key in sorted(read))
            key = (*shared, name, values, epoch())
            html = _filter_forms.get(key)
            if html is None:
                html = field.as_field_group()
                remember(_filter_forms, key, html, FILTER_FORMS_KEPT)
            parts.append(html)
        return mark_safe("".join(parts))  # noqa: S308 (each part is a rendered, escaped field)

    def render_to_response(self, context, **response_kwargs):
        """Return the export file (logged), or the page or its partial."""
        if fmt := self.export_format():
            queryset = self.object_list
            dataset = self.resource_class().export(queryset=queryset)
            log_access(self.request, action="export", queryset=queryset, rows=len(dataset))
            filename = f"{queryset.model._meta.model_name}-list.{fmt}"
            headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
            body = export_bytes(dataset, fmt)
            return HttpResponse(body, content_type=EXPORT_TYPES[fmt], headers=headers)
        if "results_html" in context and self.request.htmx and not self.request.htmx.history_restore_request:
            response = HttpResponse(context["results_html"])
        else:
            response = super().render_to_response(context, **response_kwargs)
        patch_vary_headers(response, ["HX-Request"])  # one URL, two different bodies
        return response


class ObjectDetailView(PermissionRequiredMixin, DetailView):
    """A record's page. Soft-deleted records are shown (with a banner) only to users who may restore them;
    views of personal data are written to the access log.

    A page whose template wraps its content in ``{% partialdef body inline %}`` and shows ``body_html`` when
    given may set ``body_cache_models``: the rendered body is then kept in the shared cache per record, set of
    roles and permissions (ip2a.auth.grants; per user for instructors) and day, under the data versions of
    those models (everything the body reads: the record's own model, related rows, and the models whose
    history its recent activity shows). The record itself is still read, checked and access-logged on every
    request.

    With ``body_record_history`` the record, the rows it owns and their attachments are versioned by their own
    history (audit.timeline.record_version_scopes, ip2a.caching.record_versions), and ``body_cache_models`` name
    only what the body shows of other rows: a write to another record then leaves this body kept, where a version
    of the whole table would move with every write anywhere in it."""

    body_cache_models = None
    body_record_history = False
    reads_from_replica = True  # ip2a/routers.py
    # Forward relations to load with the record (as select_related would), read by ip2a.rows.read_record from SQL
    # written once per process instead of a QuerySet compiled per request. Only for views that show the model's
    # rows to everyone who may view them: a view that scopes its queryset per user leaves it None and keeps its
    # get_queryset(), which read_record() does not consult.
    read_joined: tuple[str, ...] | None = None

    def get_queryset(self):
        if self.shows_deleted():
            return (self.model or self.queryset.model).all_objects.all()
        return super().get_queryset()

    def shows_deleted(self) -> bool:
        """Whether soft-deleted records are shown (with a banner): to users who may restore them."""
        model = self.model or self.queryset.model
        return hasattr(model, "all_objects") and self.request.user.has_perm(model_permission(model, "delete"))

    def get_object(self, queryset=None):
        if queryset is not None or self.read_joined is None:
            return super().get_object(queryset)
        model = self.model or self.queryset.model
        live_only = hasattr(model, "all_objects") and not self.shows_deleted()
        return record_or_404(model, self.kwargs[self.pk_url_kwarg], live_only=live_only, joined=self.read_joined)

    body_versions_read = None  # what body_versions() read for this request

    def get(self, request, *args, **kwargs):
        versions = self.body_versions()  # before the record: a write committed in between moves them
        self.body_versions_read = versions
        self.object = self.get_object()
        key = self.body_key(versions)
        body_html = cache.get(key) if key else None
        if body_html is None:
            context = self.get_context_data(object=self.object)
            if key:
                body_html = get_template(f"{self.get_template_names()[0]}#body").render(context, request)
                if self.body_record_history:  # one record's key: worth keeping from its first view
                    cache.set(key, body_html, CACHE_SECONDS)
                else:
                    keep(key, body_html)
        else:
            context = {"object": self.object, "view": self}
        if body_html is not None:
            context["body_html"] = body_html
        response = self.render_to_response(context)
        log_access(request, action="view", obj=self.object)
        return response

    def body_versions(self) -> dict | None:
        if self.body_cache_models is None:
            return None
        model = self.model or self.queryset.model
        if not self.body_record_history:
            return data_versions((model, *self.body_cache_models))
        # The record's scopes need only its primary key, so they are read before the record, as above.
        scopes, streams = record_version_scopes(model, self.kwargs[self.pk_url_kwarg])
        tables = tracked_tables()
        others = [tables[other._meta.db_table] for other in self.body_cache_models]
        return record_versions(scopes, streams=streams, tables=others, using=router.db_for_read(model))

    def body_key(self, versions) -> str | None:
        if versions is None:
            return None
        user = self.request.user
        # What the user may do, not who they are; an instructor's rules also depend on their own cohorts.
        scope = (grants(user).digest, user.is_superuser, user.pk if INSTRUCTOR in grants(user).roles else None)
        parts = ("body", type(self).__qualname__, self.object.pk, scope, timezone.localdate())
        return version_key(*parts, versions=versions)


class SaveInTransactionMixin:
    """Save the form in one transaction; a refusal by the database becomes a form error (status 400)."""

    reason_required = False  # True: the form must carry a reason for the history

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        if "reason" not in form.fields:
            form.fields["reason"] = reason_field(required=self.reason_required, label="Reason for this change")
        return form

    def form_valid(self, form):
        reason = form.cleaned_data.get("reason", "")
        try:
            with transaction.atomic(), history_reason(reason):
                self.object = self.save_form(form)
        except IntegrityError as exc:
            form.add_error(None, integrity_error_message(exc))
            return self.form_invalid(form)
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        messages.success(self.request, self.success_message())
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response

    def save_form(self, form):
        """Write the form (the default: ModelForm.save()); services override this."""
        return form.save()

    def success_message(self) -> str:
        return f"Saved {self.object._meta.verbose_name} “{self.object}”."


class ObjectCreateView(PermissionRequiredMixin, SaveInTransactionMixin, CreateView):
    """Create a record through its ModelForm (template: generic/object_form.html unless the app has one)."""

    template_name = "generic/object_form.html"


class ObjectUpdateView(PermissionRequiredMixin, SaveInTransactionMixin, UpdateView):
    """Edit a live record through its ModelForm."""

    template_name = "generic/object_form.html"
    # True for a soft-deletable ``model`` whose every live row may be edited by whoever may edit one (no queryset
    # scoped per user): the record is read with SQL written once (ip2a.rows.record_or_404) instead of a
    # QuerySet compiled on each GET and POST.
    reads_live_record = False

    def get_object(self, queryset=None):
        if queryset is None and self.reads_live_record:
            return record_or_404(self.model, self.kwargs[self.pk_url_kwarg])
        return super().get_object(queryset)


class ObjectActionView(PermissionRequiredMixin, FormView):
    """A confirmation page for one record (delete, restore…) asking for a reason; ``act(obj, reason)`` does it."""

    template_name = "generic/object_confirm.html"
    form_class = ReasonForm
    model = None
    queryset = None
    action_label = ""
    button_class = "primary"

    def get_object(self):
        manager = self.queryset if self.queryset is not None else self.model.all_objects
        return get_object_or_404(manager, pk=self.kwargs["pk"])

    def scoped(self, queryset):
        """The rows of ``queryset`` the user may reach: models with ``visible_to(user)`` (training) limit an
        instructor to their own cohorts; others are not limited."""
        return queryset.visible_to(self.request.user) if hasattr(queryset, "visible_to") else queryset

    def dispatch(self, request, *args, **kwargs):
        if not self.has_permission():
            return self.handle_no_permission()
        self.object = self.get_object()
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            object=self.object, action_label=self.action_label, button_class=self.button_class, **kwargs
        )

    def form_valid(self, form):
        try:
            with transaction.atomic():
                self.act(self.object, form.cleaned_data["reason"])
        except ValidationError as exc:
            form.add_error(None, exc)
            response = self.form_invalid(form)
            response.status_code = 400
            return response
        messages.success(self.request, self.success_message())
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response

    def act(self, obj, reason: str) -> None:
        raise NotImplementedError

    def success_message(self) -> str:
        return f"{self.action_label}: {self.object}."

    def get_success_url(self):
        return self.object.get_absolute_url()


class SoftDeleteView(ObjectActionView):
    """Soft-delete a live record with a reason (the model's delete permission)."""

    action_label = "Delete"
    button_class = "danger"

    def get_object(self):
        return get_object_or_404(self.scoped(self.model.objects.all()), pk=self.kwargs["pk"])

    def act(self, obj, reason):
        obj.soft_delete(reason=reason)

    def success_message(self):
        return f"Deleted {self.object._meta.verbose_name} “{self.object}”. It can be restored."


class RestoreView(ObjectActionView):
    """Bring a soft-deleted record back, with a reason (the model's delete permission)."""

    action_label = "Restore"

    def get_object(self):
        deleted = self.scoped(self.model.all_objects.filter(deleted_at__isnull=False))
        return get_object_or_404(deleted, pk=self.kwargs["pk"])

    def act(self, obj, reason):
        obj.restore(reason=reason)

    def success_message(self):
        return f"Restored {self.object._meta.verbose_name} “{self.object}”."


@login_not_required
def admin_login(request):
    """The admin's login URL. Anonymous visitors go on to the portal's login page (query string kept, so
    ?next= leads back to the admin). A signed-in user with admin access goes on to ?next= (or the admin's
    index); one without gets 403, not a loop between the two login pages (the portal's sends signed-in users
    straight back to ?next=)."""
    if not request.user.is_authenticated:
        url, query = reverse("login"), request.META.get("QUERY_STRING", "")
        return HttpResponseRedirect(f"{url}?{query}" if query else url)
    if not admin.site.has_permission(request):
        raise PermissionDenied("Your role has no access to the Django admin.")
    target = request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return HttpResponseRedirect(target if safe else reverse("admin:index"))


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """Liveness: the process answers. Touches no database."""
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_GET
def readyz(request):
    """Readiness: the database answers and every migration is applied; 503 otherwise, naming what failed. The
    read replica, when there is one, is reported but does not make the host unready: while it is down the
    read-only pages read from the primary (ip2a.routers.replica_available), and taking every host out of the
    load balancer for a replica would stop the writes too."""
    connection = connections["default"]
    checks = {"database": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            checks["database"] = "migrations pending"
    except DatabaseError:
        checks["database"] = "unreachable"
    # A test inside TestCase's transaction gives the replica default's own connection: checked above already.
    if REPLICA in connections.settings and connections[REPLICA] is not connection:
        try:
            with connections[REPLICA].cursor() as cursor:
                cursor.execute("SELECT 1")
            checks[REPLICA] = "ok"
        except DatabaseError:
            checks[REPLICA] = "unreachable"
    if checks["database"] != "ok":
        return JsonResponse({"status": "unavailable", **checks}, status=503)
    return JsonResponse({"status": "ready", **checks})
