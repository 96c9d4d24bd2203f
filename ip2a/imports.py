"""Imports of members, organizations, contacts, employments and students from CSV and XLSX files, all rows or none.

One path for the portal (``ImportView``) and the operator command (``import_rows``):

- ``read_upload()`` checks the file before any row is processed: at most 10 MB, UTF-8 (a byte-order mark is
  fine) for CSV, at most 20,000 data rows, the required header columns present (unknown ones are dropped
  with a notice).
- ``run_import()`` runs the app's resource (``ip2a.resources.SafeModelResource``: formula cells un-escaped,
  full_clean() and save() per row, rows matched among soft-deleted ones too). The preview's dry run reports
  every row as new, update, unchanged or error and is rolled back; the real import runs in one transaction
  whose history says source "import", the file name as reason and who, and stops, writing nothing, at the
  first error. The model's constraints are checked by the database as rows are written (see
  ``DatabaseCheckedImport``), with the messages the models declare.
- Between preview and confirm the file waits in a private folder (``var/imports/``), under a random token
  that only the user who uploaded it can confirm, for an hour. The confirm step never takes a file.
"""

import contextlib
import csv
import datetime
import functools
import hashlib
import io
import json
import os
import re
import secrets
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pghistory
import tablib
from django import forms
from django.conf import settings
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views import View
from import_export.exceptions import ImportExportError
from openpyxl import load_workbook

from audit.history import history_context
from audit.models import AuditSource
from ip2a.forms import integrity_error_message
from ip2a.views import model_permission
from members.resources import MemberEmploymentResource, MemberResource
from organizations.resources import OrganizationContactResource, OrganizationResource
from training.resources import StudentResource

MAX_BYTES = 10 * 1024 * 1024  # 10 MB, counted like the attachment limit (DOMAIN.md §7)
MAX_ROWS = 20_000
PENDING_SECONDS = 60 * 60  # how long a previewed file waits for its confirmation
FORMATS = {".csv": "csv", ".xlsx": "xlsx"}
NOTHING_IMPORTED = "Fix the file and upload again; nothing was imported."


@dataclass(frozen=True)
class ImportKind:
    """One kind of rows that can be imported: its resource, its page's title and the list it belongs to."""

    key: str
    resource_class: type
    title: str
    list_url_name: str

    @property
    def model(self):
        return self.resource_class._meta.model

    @property
    def permissions(self) -> tuple[str, str]:
        """Importing creates and changes rows: the model's add and change permissions (DOMAIN.md §5)."""
        return model_permission(self.model, "add"), model_permission(self.model, "change")


IMPORTS = {
    kind.key: kind
    for kind in (
        ImportKind("members", MemberResource, "members", "members:member_list"),
        ImportKind("organizations", OrganizationResource, "organizations", "organizations:organization_list"),
        ImportKind(
            "contacts", OrganizationContactResource, "organization contacts", "organizations:organization_list"
        ),
        ImportKind("employments", MemberEmploymentResource, "employments", "members:member_list"),
        ImportKind("students", StudentResource, "students", "training:student_list"),
    )
}


class ImportRefused(Exception):
    """The file as a whole cannot be imported (size, encoding, row count, columns); no row was processed."""


# --- Reading and checking the file ---------------------------------------------------------------------------


@dataclass
class Upload:
    """A checked file: its rows as a tablib Dataset with the resource's column names."""

    name: str
    data: bytes
    dataset: tablib.Dataset
    row_numbers: list[int]  # the spreadsheet row number (header = 1) of each dataset row
    notices: list[str] = field(default_factory=list)


def file_format(name: str) -> str:
    """The format of a file from its extension: "csv" or "xlsx"; ImportRefused for anything else."""
    fmt = FORMATS.get(Path(name).suffix.lower())
    if fmt is None:
        raise ImportRefused(f"“{name}” is neither a .csv nor an .xlsx file. {NOTHING_IMPORTED}")
    return fmt


def check_size(size: int) -> None:
    """Refuse files over MAX_BYTES."""
    if size > MAX_BYTES:
        raise ImportRefused(
            f"The file is {size:,} bytes; the limit is {MAX_BYTES // 1024 // 1024} MB ({MAX_BYTES:,} bytes). "
            "Split it into smaller files. Nothing was imported."
        )


def column_names(resource_class) -> tuple[list[str], list[str]]:
    """(required columns, optional columns) of a resource's files, in the resource's order.

    Required: the import id columns (except a plain ``id``, blank for new rows) and the model's required
    fields; optional: every other column, read-only ones included (an export can be imported unchanged).
    """
    resource = resource_class()
    model = resource._meta.model
    id_fields = [name for name in resource.get_import_id_fields() if name != "id"]
    required, optional = [], []
    for name, res_field in resource.fields.items():
        model_field = None
        if res_field.attribute and "__" not in res_field.attribute:
            with contextlib.suppress(FieldDoesNotExist):
                model_field = model._meta.get_field(res_field.attribute)
        needed = name in id_fields or (
            not res_field.readonly
            and model_field is not None
            and not model_field.primary_key
            and not model_field.blank
            and not model_field.has_default()
            and not model_field.has_db_default()
        )
        (required if needed else optional).append(res_field.column_name)
    return required, optional


def read_upload(*, name: str, data: bytes, resource_class) -> Upload:
    """Check a file and read its rows; ImportRefused (with a message for people) before any row is processed."""
    fmt = file_format(name)
    check_size(len(data))
    rows = _csv_rows(data) if fmt == "csv" else _xlsx_rows(data)
    try:
        return _dataset(name, data, rows, resource_class)
    finally:
        rows.close()


def _csv_rows(data: bytes):
    try:
        text = data.decode("utf-8-sig")  # drops a byte-order mark
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRefused(
            f"The file is not UTF-8 text: line {line} holds the byte 0x{data[exc.start]:02X}, which UTF-8 does "
            f"not allow. Save it as “CSV UTF-8” (comma-separated) and upload it again; nothing was imported."
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        yield from reader
    except csv.Error as exc:
        raise ImportRefused(f"Row {reader.line_num} cannot be read as CSV ({exc}). {NOTHING_IMPORTED}") from None


# What a damaged workbook raises while it is opened or read: zip and zlib errors, XML parse errors (lxml's and
# ElementTree's are SyntaxErrors), missing parts (KeyError), a workbook without a sheet (IndexError), and
# openpyxl's own ValueErrors.
UNREADABLE_XLSX = (zipfile.BadZipFile, zlib.error, SyntaxError, KeyError, IndexError, ValueError, OSError, EOFError)


def _xlsx_rows(data: bytes):
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except UNREADABLE_XLSX:
        raise ImportRefused(f"The file is not a readable .xlsx workbook. {NOTHING_IMPORTED}") from None
    try:
        # The first sheet, as spreadsheets show it (cached formula results, never the formulas). A sheet cut
        # off mid-file opens and then fails while its rows are read.
        for values in workbook.worksheets[0].iter_rows(values_only=True):
            yield [_xlsx_value(value) for value in values]
    except UNREADABLE_XLSX:
        raise ImportRefused(f"The file is not a readable .xlsx workbook. {NOTHING_IMPORTED}") from None
    finally:
        workbook.close()


def _xlsx_value(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 7000123.0 is member number 7000123
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date()  # spreadsheets store dates as midnight
    return value


def _blank(cells) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _dataset(name: str, data: bytes, rows, resource_class) -> Upload:
    required, optional = column_names(resource_class)
    known = {column.lower(): column for column in (*required, *optional)}
    header = next(rows, None)
    if header is None or _blank(header):
        raise ImportRefused(f"The first row must name the columns, e.g. {', '.join(required)}. {NOTHING_IMPORTED}")
    header = [str(cell).strip().lstrip("\ufeff") for cell in header]
    while header and not header[-1]:
        header.pop()
    keep, columns, ignored = [], [], []
    for index, title in enumerate(header):
        column = known.get(title.lower())
        if column is None:
            ignored.append(title or f"column {index + 1} (no name)")
        elif column in columns:
            raise ImportRefused(f"The column “{column}” appears twice in the first row. {NOTHING_IMPORTED}")
        else:
            keep.append(index)
            columns.append(column)
    missing = [column for column in required if column not in columns]
    if missing:
        raise ImportRefused(
            f"The file lacks the required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}. "
            f"The first row must name the columns; an export of the list has them. Nothing was imported."
        )
    dataset, row_numbers = tablib.Dataset(headers=columns), []
    for number, cells in enumerate(rows, start=2):
        if _blank(cells):
            continue  # spreadsheets often end in empty rows
        if len(row_numbers) == MAX_ROWS:
            raise ImportRefused(
                f"The file has more than {MAX_ROWS:,} rows; split it into smaller files. Nothing was imported."
            )
        if len(cells) > len(header) and not _blank(cells[len(header) :]):
            raise ImportRefused(f"Row {number} has more cells than the first row has columns. {NOTHING_IMPORTED}")
        cells = [*cells, *[""] * (len(header) - len(cells))]
        # Forms strip surrounding spaces; so does the import, so both store the same value.
        dataset.append([cells[i].strip() if isinstance(cells[i], str) else cells[i] for i in keep])
        row_numbers.append(number)
    if not row_numbers:
        raise ImportRefused(f"The file has no rows below the column names. {NOTHING_IMPORTED}")
    notices = []
    if ignored:
        notices.append(
            f"Ignored column{'s' if len(ignored) > 1 else ''} this import does not use: {', '.join(ignored)}."
        )
    return Upload(name=name, data=data, dataset=dataset, row_numbers=row_numbers, notices=notices)


# --- Running the import ------------------------------------------------------------------------------------

NEW, UPDATE, UNCHANGED, ERROR = "new", "update", "unchanged", "error"
STATUS_OF = {"new": NEW, "update": UPDATE, "skip": UNCHANGED, "invalid": ERROR, "error": ERROR}


@dataclass
class RowReport:
    """What the import does, or would do, with one row of the file."""

    number: int  # spreadsheet row number (the header is row 1)
    status: str  # new, update, unchanged or error
    label: str
    errors: list[tuple[str, str]] = field(default_factory=list)  # (column or "row", message)
    changed: list[str] = field(default_factory=list)  # columns an update changes
    warnings: list[str] = field(default_factory=list)  # notices that do not stop the row (an unusual rate)
    url: str = ""  # the record's page, once imported


@dataclass
class ImportReport:
    """The outcome of run_import(): one RowReport per row, errors of the file as a whole, and whether it wrote."""

    name: str
    rows: list[RowReport]  # every row; only the failed one when a real import stopped
    total: int  # rows in the file
    file_errors: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    imported: bool = False  # True once the rows are committed
    stopped: bool = False  # a real import stopped at an error (and wrote nothing)

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def counts(self) -> dict[str, int]:
        return {status: self.count(status) for status in (NEW, UPDATE, UNCHANGED, ERROR)}

    @property
    def has_errors(self) -> bool:
        return bool(self.file_errors) or any(row.status == ERROR for row in self.rows)

    @property
    def error_rows(self) -> list[RowReport]:
        return [row for row in self.rows if row.status == ERROR]

    @property
    def changed_rows(self) -> list[RowReport]:
        return [row for row in self.rows if row.status in (NEW, UPDATE)]

    def summary_line(self) -> str:
        """One line: rows per status, or where a real import stopped."""
        rows = f"{self.name}: {self.total:,} row{'' if self.total == 1 else 's'}"
        if self.stopped:
            return f"{rows}, stopped by the error on row {self.rows[0].number}"
        c = self.counts
        return f"{rows}, {c[NEW]:,} new, {c[UPDATE]:,} updated, {c[UNCHANGED]:,} unchanged, {c[ERROR]:,} with errors"


@functools.cache
def import_resource(resource_class):
    """The resource class as the portal runs it: no HTML diff (the preview lists changed columns itself)."""
    cls = type(f"{resource_class.__name__}Import", (resource_class,), {})
    cls._meta.skip_html_diff = True
    return cls


@contextlib.contextmanager
def import_history(*, reason: str, user=None, **extra):
    """history_context(source="import") for the writes inside the block, and the outer context (a web
    request's, a command's) exactly as it was after it.

    (pghistory merges a nested context into the outer one for good: without this the request's later writes
    would say "import" too.)
    """
    with pghistory.context() as outer:
        saved = dict(outer.metadata)
        try:
            with history_context(source=AuditSource.IMPORT, reason=reason, user=user, **extra):
                yield
        finally:
            outer.metadata.clear()
            outer.metadata.update(saved)


def run_import(upload: Upload, resource_class, *, user=None, dry_run: bool, context: dict | None = None):
    """Import the upload's rows: a dry run (always rolled back) that reports every row, for the preview; or
    for real in one transaction under history source "import" with the file name as reason, which stops and
    writes nothing at the first row error.

    ``user`` is who imports (None for commands); ``context`` adds request_id, ip and url for the history.
    """
    resource = import_resource(resource_class)()
    resource.row_numbers = upload.row_numbers  # messages name rows as the spreadsheet numbers them
    options = {"retain_instance_in_row_result": True, "user": user}
    if dry_run:
        # Rows are written for real (so the database checks them) in a transaction that is always rolled back;
        # import-export's own dry run would put a savepoint around every row, writing or not.
        with transaction.atomic():
            result = resource.import_data(upload.dataset, dry_run=False, use_transactions=False, **options)
            transaction.set_rollback(True)
        return _report(upload, resource, result, linked=False)
    resource.savepoint_per_save = False
    try:
        with transaction.atomic(), import_history(reason=upload.name, user=user, **(context or {})):
            # No savepoint per row: the whole file is one transaction, and the first error ends it.
            result = resource.import_data(
                upload.dataset, dry_run=False, use_transactions=False, raise_errors=True, **options
            )
            report = _report(upload, resource, result, linked=True)
    except ImportExportError as exc:
        columns = _columns(resource)
        if exc.number is None:
            report = ImportReport(name=upload.name, rows=[], total=len(upload.dataset), notices=list(upload.notices))
            report.file_errors = [message for _, message in _messages(getattr(exc, "error", exc), columns)]
            return report
        return _stopped(upload, resource, exc.number - 1, _messages(exc.error, columns))
    report.imported = True
    return report


def _columns(resource) -> dict[str, str]:
    return {res_field.attribute: res_field.column_name for res_field in resource.get_import_fields()}


def _messages(error, columns: dict[str, str]) -> list[tuple[str, str]]:
    """(column or "row", message) pairs for what a row raised."""
    if isinstance(error, ValidationError):
        if hasattr(error, "error_dict"):
            return [
                ("row" if attribute == NON_FIELD_ERRORS else columns.get(attribute, attribute), message)
                for attribute, messages in error.message_dict.items()
                for message in messages
            ]
        return [("row", message) for message in error.messages]
    if isinstance(error, IntegrityError):
        return [("row", integrity_error_message(error))]  # the constraint's own message
    return [("row", str(error) or type(error).__name__)]


def _value(res_field, instance):
    """A column's value in a record, foreign keys as ids (no query for a related row)."""
    try:
        model_field = instance._meta.get_field(res_field.attribute)
    except FieldDoesNotExist:
        return res_field.get_value(instance)
    return getattr(instance, model_field.attname, None)


def _label(upload: Upload, index: int, required: list[str]) -> str:
    """What names a row that was not read into a record: its required cells."""
    headers, values = upload.dataset.headers, upload.dataset[index]
    return " · ".join(
        str(values[headers.index(column)])
        for column in required
        if column in headers and values[headers.index(column)] not in ("", None)
    )


def _stopped(upload: Upload, resource, index: int, errors: list[tuple[str, str]]) -> ImportReport:
    """The report of a real import that stopped at one row's error (and wrote nothing)."""
    required, _ = column_names(type(resource))
    row = RowReport(
        number=upload.row_numbers[index], status=ERROR, label=_label(upload, index, required), errors=errors
    )
    return ImportReport(
        name=upload.name, rows=[row], total=len(upload.dataset), notices=list(upload.notices), stopped=True
    )


def _report(upload: Upload, resource, result, *, linked: bool) -> ImportReport:
    fields = resource.get_import_fields()
    columns = _columns(resource)
    required, _ = column_names(type(resource))
    rows = []
    for index, (row_result, number) in enumerate(zip(result.rows, upload.row_numbers, strict=True)):
        status = STATUS_OF.get(row_result.import_type, ERROR)
        report = RowReport(number=number, status=status, label=row_result.object_repr or "")
        if not report.label:
            report.label = _label(upload, index, required)
        if row_result.validation_error is not None:
            report.errors += _messages(row_result.validation_error, columns)
        for error in row_result.errors:
            report.errors += _messages(error.error, columns)
        if status == ERROR and not report.errors:
            report.errors.append(("row", "This row could not be imported."))
        if status == UPDATE and row_result.original is not None and row_result.instance is not None:
            report.changed = [
                res_field.column_name
                for res_field in fields
                if res_field.column_name in upload.dataset.headers
                and _value(res_field, row_result.original) != _value(res_field, row_result.instance)
            ]
        instance = row_result.instance
        if status in (NEW, UPDATE) and hasattr(instance, "warnings"):
            report.warnings = instance.warnings()
        if linked and status in (NEW, UPDATE) and instance is not None and hasattr(instance, "get_absolute_url"):
            report.url = instance.get_absolute_url()
        rows.append(report)
    return ImportReport(
        name=upload.name,
        rows=rows,
        total=len(upload.dataset),
        file_errors=[message for error in result.base_errors for _, message in _messages(error.error, columns)],
        notices=list(upload.notices),
    )


# --- Files waiting for their confirmation ------------------------------------------------------------------

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32}$")


def pending_dir() -> Path:
    """The private folder previewed files wait in (settings.IMPORTS_DIR, else var/imports)."""
    return Path(getattr(settings, "IMPORTS_DIR", None) or settings.VAR_DIR / "imports")


@dataclass
class Pending:
    """A previewed file claimed for its confirmation; finish() deletes it."""

    token: str
    name: str
    data: bytes
    has_errors: bool

    def finish(self) -> None:
        """Delete the file and its record: a token is confirmed at most once."""
        folder = pending_dir()
        for suffix in ("json", "claimed", "data"):
            (folder / f"{self.token}.{suffix}").unlink(missing_ok=True)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def store_pending(upload: Upload, *, kind: str, user, has_errors: bool) -> str:
    """Keep a previewed file for its confirmation by ``user``; return its token."""
    folder = pending_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    purge_pending()
    token = secrets.token_urlsafe(24)
    meta = {
        "kind": kind,
        "user_id": user.pk,
        "name": upload.name,
        "created": time.time(),
        "sha256": hashlib.sha256(upload.data).hexdigest(),
        "has_errors": has_errors,
    }
    _write_private(folder / f"{token}.data", upload.data)
    _write_private(folder / f"{token}.json", json.dumps(meta).encode())  # written last: the file is complete
    return token


def claim_pending(token: str, *, kind: str, user) -> Pending | None:
    """Take the file ``user`` previewed under ``token`` for this kind of import, so no second request can
    import it too; None when there is none (unknown, expired, already imported, or another user's)."""
    if not TOKEN_PATTERN.match(token or ""):
        return None
    folder = pending_dir()
    meta_path, claimed = folder / f"{token}.json", folder / f"{token}.claimed"
    try:
        meta = json.loads(meta_path.read_bytes())
    except (FileNotFoundError, ValueError):
        return None
    if meta.get("user_id") != user.pk or meta.get("kind") != kind:
        return None
    if time.time() - meta["created"] > PENDING_SECONDS:
        return None
    try:
        meta_path.rename(claimed)  # atomic: of two confirmations at once, one wins
    except FileNotFoundError:
        return None
    pending = Pending(token=token, name=meta["name"], data=b"", has_errors=meta["has_errors"])
    try:
        pending.data = (folder / f"{token}.data").read_bytes()
    except FileNotFoundError:
        pending.finish()
        return None
    if hashlib.sha256(pending.data).hexdigest() != meta["sha256"]:
        pending.finish()
        return None
    return pending


def purge_pending() -> int:
    """Delete previewed files older than PENDING_SECONDS; return how many files went."""
    folder, removed = pending_dir(), 0
    if not folder.is_dir():
        return 0
    limit = time.time() - PENDING_SECONDS
    for path in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
    return removed


# --- The pages ---------------------------------------------------------------------------------------------


class ImportFileForm(forms.Form):
    file = forms.FileField(
        label="File",
        help_text=(
            f"CSV (UTF-8) or XLSX, at most {MAX_BYTES // 1024 // 1024} MB and {MAX_ROWS:,} rows; "
            "the first row names the columns."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            file_format(upload.name)
            check_size(upload.size)
        except ImportRefused as exc:
            raise ValidationError(str(exc)) from None
        return upload


class ImportView(PermissionRequiredMixin, View):
    """Upload → preview (a dry run listing every row as new, update, unchanged or error) → confirm (one
    transaction, all or nothing) → summary, for one kind of rows (``kind``, a key of IMPORTS).

    Needs the model's add and change permissions. The confirm step imports the file kept at preview time,
    never a new upload, and only for the user who uploaded it.
    """

    kind = ""
    raise_exception = True

    @property
    def spec(self) -> ImportKind:
        return IMPORTS[self.kind]

    def get_permission_required(self):
        return self.spec.permissions

    def get(self, request, *args, **kwargs):
        return self.render_page("generic/import_form.html", form=ImportFileForm())

    def post(self, request, *args, **kwargs):
        if "token" in request.POST:
            return self.confirm(request)
        return self.upload(request)

    def upload(self, request):
        """Check the file, run the dry run and show the preview; the file waits for the confirmation."""
        form = ImportFileForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_page("generic/import_form.html", form=form, status=400)
        uploaded = form.cleaned_data["file"]
        try:
            upload = read_upload(name=uploaded.name, data=uploaded.read(), resource_class=self.spec.resource_class)
        except ImportRefused as exc:
            form.add_error("file", str(exc))
            return self.render_page("generic/import_form.html", form=form, status=400)
        report = run_import(upload, self.spec.resource_class, user=request.user, dry_run=True)
        token = store_pending(upload, kind=self.kind, user=request.user, has_errors=report.has_errors)
        return self.render_page("generic/import_preview.html", report=report, token=token)

    def confirm(self, request):
        """Import the previewed file in one transaction and show what changed."""
        pending = claim_pending(request.POST["token"], kind=self.kind, user=request.user)
        if pending is None:
            return self.refuse(
                "This preview is no longer available: it expired, was already imported, or is not yours. "
                "Upload the file again; nothing was imported.",
                status=404,
            )
        try:
            if pending.has_errors:
                return self.refuse(f"The file has rows with errors. {NOTHING_IMPORTED}", status=400)
            try:
                upload = read_upload(name=pending.name, data=pending.data, resource_class=self.spec.resource_class)
            except ImportRefused as exc:
                return self.refuse(str(exc), status=400)
            context = {"request_id": request.request_id, "ip": request.client_ip, "url": request.path}
            report = run_import(upload, self.spec.resource_class, user=request.user, dry_run=False, context=context)
        finally:
            pending.finish()  # imported or not, the preview is used up: a retry starts from a new upload
        if not report.imported:
            return self.render_page("generic/import_preview.html", report=report, failed=True, status=400)
        return self.render_page("generic/import_done.html", report=report, request_id=request.request_id)

    def refuse(self, message: str, *, status: int):
        return self.render_page("generic/import_form.html", form=ImportFileForm(), refusal=message, status=status)

    def render_page(self, template: str, *, status: int = 200, **context):
        required, optional = column_names(self.spec.resource_class)
        try:
            list_url = reverse(self.spec.list_url_name)
        except NoReverseMatch:
            list_url = reverse("dashboard")
        context |= {
            "kind": self.spec,
            "required_columns": required,
            "optional_columns": optional,
            "list_url": list_url,
            "max_rows": MAX_ROWS,
        }
        return render(self.request, template, context, status=status)
