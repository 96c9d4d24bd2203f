"""Shared import/export machinery: the base every app's ModelResource builds on.

Every resource exports formula-safe cells (a text cell a spreadsheet would run as a formula gets a leading
apostrophe, which imports strip again), looks rows up among soft-deleted ones too (uniqueness spans them, in
one query per file), and saves each row through ``Model.save()`` after ``full_clean()``, so trimming,
upper-casing, derived fields and the models' [form] rules apply exactly as in forms. The portal's imports
(``ip2a/imports.py``) and the Django admin's import share all of this, including the refusal of files that
give one key twice or name ids that do not exist.
"""

import contextlib
import io
import itertools

from django.core.exceptions import MultipleObjectsReturned, ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from import_export import resources, widgets
from import_export.instance_loaders import ModelInstanceLoader
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from ip2a.forms import integrity_error_message

# Cells starting with these run as formulas in Excel, LibreOffice and Google Sheets (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value):
    """Return ``value`` with a leading apostrophe when it is text a spreadsheet would run as a formula.

    Text that already starts with apostrophes before a formula character gets one more, so that
    unescape_formula() gives back exactly the original.
    """
    if isinstance(value, str) and value.lstrip("'").startswith(FORMULA_PREFIXES):
        return f"'{value}"
    return value


def unescape_formula(value):
    """Undo escape_formula(): drop one apostrophe in front of a formula character, leave anything else."""
    if isinstance(value, str) and value.startswith("'") and value.lstrip("'").startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


class AllRowsInstanceLoader(ModelInstanceLoader):
    """Find the row an import updates among all rows, soft-deleted ones included.

    A blank key (an optional code left empty) never matches: the row is new.
    """

    def get_queryset(self):
        return self.resource._meta.model._base_manager.all()

    def get_instance(self, row):
        """Return the existing row with the import id fields' values, or None for a new row."""
        params = {}
        for name in self.resource.get_import_id_fields():
            field = self.resource.fields[name]
            if field.column_name not in row:
                return None
            value = field.clean(row)
            if value in (None, ""):
                return None
            params[field.attribute] = value
        try:
            return self.get_queryset().get(**params)
        except self.resource._meta.model.DoesNotExist:
            return None


class BatchInstanceLoader(AllRowsInstanceLoader):
    """AllRowsInstanceLoader that reads every row the file names in one query, not one per row (resources
    matched by one column; others look rows up one by one)."""

    def __init__(self, resource, dataset=None):
        super().__init__(resource, dataset)
        names = resource.get_import_id_fields()
        self.key = resource.fields[names[0]] if len(names) == 1 else None
        self.cache = None
        if self.key is None or dataset is None or self.key.column_name not in dataset.headers:
            return
        keys = set()
        for row in dataset.dict:
            with contextlib.suppress(ValueError):  # a malformed key: get_instance() reports it on its row
                keys.add(self.key.clean(row))
        keys -= {None, ""}
        rows = self.get_queryset().filter(**{f"{self.key.attribute}__in": keys}) if keys else []
        self.cache = {self.key.get_value(instance): instance for instance in rows}

    def get_instance(self, row):
        if self.cache is None:
            return super().get_instance(row)
        if self.key.column_name not in row:
            return None
        value = self.key.clean(row)
        return None if value in (None, "") else self.cache.get(value)


class UpperCaseWidget(widgets.CharWidget):
    """Text trimmed and upper-cased on import, as the model stores it (so the import id lookup matches)."""

    def clean(self, value, row=None, **kwargs):
        return (super().clean(value, row, **kwargs) or "").strip().upper()


class LowerCaseWidget(widgets.CharWidget):
    """Text trimmed and lower-cased on import, as emails are stored (so the import id lookup matches)."""

    def clean(self, value, row=None, **kwargs):
        return (super().clean(value, row, **kwargs) or "").strip().lower()


class LookupWidget(widgets.ForeignKeyWidget):
    """A foreign key found by one unique column among live rows; a miss is a row error with a message."""

    def clean(self, value, row=None, **kwargs):
        name, column = self.model._meta.verbose_name, "id" if self.field == "pk" else self.field.replace("_", " ")
        try:
            return super().clean(value, row, **kwargs)
        except ObjectDoesNotExist:
            raise ValueError(f"No {name} with {column} {value!r}.") from None
        except MultipleObjectsReturned:
            raise ValueError(f"More than one {name} has {column} {value!r}.") from None


class SafeModelResource(resources.ModelResource):
    """The base of every resource: formula-safe cells, lookups over all rows, one validated save() per row.

    Field rules and the model's clean() run through full_clean(); the model's constraints are left to the
    database at save(), whose refusal becomes the row's error with the constraint's own message.
    (Model.validate_constraints() costs one query and one savepoint per check constraint and row, and made
    10,000 members take four minutes; the database enforces the same constraints on every insert anyway.)
    """

    importable = True  # the admin offers import only for importable resources
    savepoint_per_save = True  # a refused row is undone alone and the rest go on; a one-shot import stops

    class Meta:
        skip_unchanged = True  # a row equal to the database is reported as skipped and not written
        report_skipped = True
        clean_model_instances = True  # full_clean(): field rules and the model's clean()
        use_bulk = False  # every row goes through Model.save() (trimming, upper-casing, derived fields)
        instance_loader_class = BatchInstanceLoader

    def export_field(self, field, instance, **kwargs):
        """Render one cell, escaping text that a spreadsheet would run as a formula (numbers are left alone)."""
        value = super().export_field(field, instance, **kwargs)
        if isinstance(field.widget, widgets.NumberWidget):
            return value
        return escape_formula(value)

    def before_import(self, dataset, **kwargs):
        """Find the rows the resource alone would misread: a key given twice, an id that is no row's."""
        super().before_import(dataset, **kwargs)
        self.misread_rows = file_errors(self, dataset, getattr(self, "row_numbers", None))

    def before_import_row(self, row, **kwargs):
        """Strip the apostrophes export_field() added, before any cell is read; refuse a misread row."""
        for column, value in row.items():
            row[column] = unescape_formula(value)
        if message := getattr(self, "misread_rows", {}).get(kwargs.get("row_number")):
            [name] = self.get_import_id_fields()
            raise ValidationError({self.fields[name].attribute: message})

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        """full_clean() without the constraints (the database checks those as the row is written)."""
        errors = dict(import_validation_errors or {})
        try:
            instance.full_clean(exclude=errors.keys(), validate_unique=validate_unique, validate_constraints=False)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def do_instance_save(self, instance, is_create):
        """Save the row; a refusal by the database becomes the row's error, with the constraint's message."""
        try:
            if not self.savepoint_per_save:
                return super().do_instance_save(instance, is_create)
            with transaction.atomic():  # only this row's write is undone when the database refuses it
                return super().do_instance_save(instance, is_create)
        except IntegrityError as exc:
            raise ValidationError(integrity_error_message(exc)) from exc


def file_errors(resource, dataset, row_numbers: list[int] | None = None) -> dict[int, str]:
    """Errors of rows the resource alone would misread, by dataset row (1 = the first row below the header;
    messages name rows as spreadsheets number them — ``row_numbers`` when blank rows were dropped):
    a key (e.g. member number) an earlier row already has — the second would be imported as an update of the
    first, or fail as a duplicate; and, for resources matched by id, an id that is no row's — it would be
    inserted with that id, ahead of the table's sequence, and a later insert would collide with it."""
    names = resource.get_import_id_fields()
    if len(names) != 1 or resource.fields[names[0]].column_name not in (dataset.headers or []):
        return {}
    key = resource.fields[names[0]]
    seen, errors, ids = {}, {}, {}
    for number, row in enumerate(dataset.dict, start=1):
        try:
            value = key.clean(row)
        except ValueError:
            continue  # the row reports it
        if value in (None, ""):
            continue
        if value in seen:
            first = row_numbers[seen[value] - 1] if row_numbers else seen[value] + 1
            errors[number] = f"{key.column_name} {value} is on row {first} too; give each once."
            continue
        seen[value] = number
        if names == ["id"]:
            with contextlib.suppress(TypeError, ValueError):
                ids[number] = int(value)
    if ids:
        model = resource._meta.model
        found = set(model._base_manager.filter(pk__in=set(ids.values())).values_list("pk", flat=True))
        name = model._meta.verbose_name
        for number, pk in ids.items():
            if pk not in found:
                errors[number] = f"No {name} has id {pk}; leave id empty to add a new {name}."
    return errors


class ExportOnlyResource(SafeModelResource):
    """A resource for lists that are exported but never imported (rows made by workflows, logs)."""

    importable = False

    def import_data(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} is export-only.")


def export_bytes(dataset, fmt: str) -> bytes | str:
    """The dataset as a file of the given format ("csv" or "xlsx"; xlsx through write_xlsx())."""
    if fmt != "xlsx":
        return dataset.export(fmt)
    buffer = io.BytesIO()
    write_xlsx(buffer, dataset.headers or [], [dataset], title=dataset.title or "Export")
    return buffer.getvalue()


SHEET_COLUMN_WIDTH = 60  # characters: the widest a column is made for its values


def write_xlsx(file, headers, row_chunks, *, title: str) -> None:
    """Write a spreadsheet of ``headers`` and the rows of each of ``row_chunks`` (iterables of rows, read one
    at a time) to the binary ``file``.

    Through openpyxl's write-only mode, which streams rows instead of keeping a cell object per value: 10,000
    members take about a third of the time tablib's writer needs, and a history export of 100,000 rows never
    holds them all. Cells hold what the resource rendered (text, formula-escaped), so nothing is read as a
    formula. As tablib writes a sheet: the column names in bold, frozen above the rows, and multi-line text
    wrapped; the columns are as wide as the first chunk's values need, and characters a spreadsheet cannot hold
    are dropped (openpyxl refuses them, which failed the whole file).
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.freeze_panes = "A2"
    headers = list(headers)
    started = False
    for chunk in itertools.chain(row_chunks, [()]):
        rows = [[_sheet_value(value) for value in row] for row in chunk]
        if not started:  # widths go before the first row in write-only mode
            for index, name in enumerate(headers):
                widest = max([len(str(name)), *(len(str(row[index])) for row in rows if index < len(row))])
                sheet.column_dimensions[get_column_letter(index + 1)].width = min(widest + 2, SHEET_COLUMN_WIDTH)
            sheet.append([_sheet_cell(sheet, name, bold=True) for name in headers])
            started = True
        for row in rows:
            sheet.append(
                [_sheet_cell(sheet, value) if isinstance(value, str) and "\n" in value else value for value in row]
            )
    workbook.save(file)


def _sheet_value(value):
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _sheet_cell(sheet, value, *, bold: bool = False) -> WriteOnlyCell:
    """A cell with a style: bold (the column names) or wrapped (multi-line text); other values go in plain."""
    cell = WriteOnlyCell(sheet, value=value)
    if bold:
        cell.font = Font(bold=True)
    else:
        cell.alignment = Alignment(wrap_text=True)
    return cell
