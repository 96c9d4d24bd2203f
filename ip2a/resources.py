"""Shared import/export machinery: the base every app's ModelResource builds on.

Every resource exports formula-safe cells (a text cell a spreadsheet would run as a formula gets a leading
apostrophe, which imports strip again), looks rows up among soft-deleted ones too (uniqueness spans them),
and saves each row through ``Model.save()`` after ``full_clean()``, so trimming, upper-casing and derived
fields apply exactly as in forms.
"""

from django.core.exceptions import MultipleObjectsReturned, ObjectDoesNotExist
from import_export import resources, widgets
from import_export.instance_loaders import ModelInstanceLoader

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
    """The base of every resource: formula-safe cells, lookups over all rows, one validated save() per row."""

    importable = True  # the admin offers import only for importable resources

    class Meta:
        skip_unchanged = True  # a row equal to the database is reported as skipped and not written
        report_skipped = True
        clean_model_instances = True  # full_clean(): constraint messages instead of IntegrityErrors
        use_bulk = False  # every row goes through Model.save() (trimming, upper-casing, derived fields)
        instance_loader_class = AllRowsInstanceLoader

    def export_field(self, field, instance, **kwargs):
        """Render one cell, escaping text that a spreadsheet would run as a formula (numbers are left alone)."""
        value = super().export_field(field, instance, **kwargs)
        if isinstance(field.widget, widgets.NumberWidget):
            return value
        return escape_formula(value)

    def before_import_row(self, row, **kwargs):
        """Strip the apostrophes export_field() added, before any cell is read."""
        for column, value in row.items():
            row[column] = unescape_formula(value)


class ExportOnlyResource(SafeModelResource):
    """A resource for lists that are exported but never imported (rows made by workflows, logs)."""

    importable = False

    def import_data(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} is export-only.")
