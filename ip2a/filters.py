"""Filter machinery every list shares: the ``sort`` filter and the live/deleted switch.

- ``SortFilter``: a sort key may stand for several columns (name → last and first name), and the rows are
  then ordered by ``then`` (default: the model's own ordering, which ends in pk), so pages never repeat or
  skip a row.
- ``DeletedFilterSet``: the base of FilterSets over soft-delete models. It lists live rows; holders of the
  model's delete permission (who may restore) also get a "Show: deleted" choice.
- ``YesNoFilter``: an Any / Yes / No list filter that answers a malformed value with 400 (django-filter's
  BooleanFilter quietly drops it and shows every row).
"""

import django_filters
from django import forms
from django.core.exceptions import ValidationError

from ip2a.forms import AnyYesNoSelect


class YesNoField(forms.NullBooleanField):
    """ "" (any), "true" or "false", as AnyYesNoSelect sends them; anything else is invalid."""

    widget = AnyYesNoSelect
    values = {"": None, "true": True, "false": False}

    def to_python(self, value):
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in self.values:
            return self.values[value.lower()]
        raise ValidationError("Choose Any, Yes or No.", code="invalid")

    def validate(self, value):
        pass


class YesNoFilter(django_filters.BooleanFilter):
    field_class = YesNoField


class SortFilter(django_filters.OrderingFilter):
    """The ``sort`` filter of a list; ``columns`` maps a field to the columns it sorts by, ``then`` is the
    tie-break order (default: the model's Meta.ordering)."""

    def __init__(self, *args, columns=None, then=None, **kwargs):
        self.columns = dict(columns or {})
        self.then = tuple(then) if then else None
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        """Order by the asked keys (expanded to their columns), then by the tie-break order."""
        ordering = []
        for param in value or ():
            if not param:
                continue
            field = self.get_ordering_value(param)
            prefix, name = ("-", field[1:]) if field.startswith("-") else ("", field)
            ordering += [f"{prefix}{column}" for column in self.columns.get(name, (name,))]
        if not ordering:
            return qs
        tail = self.then if self.then is not None else qs.model._meta.ordering
        used = {column.lstrip("-") for column in ordering}
        return qs.order_by(*ordering, *(column for column in tail if column.lstrip("-") not in used))


class DeletedFilterSet(django_filters.FilterSet):
    """Lists live rows; holders of the model's delete permission may ask for the deleted ones (to restore)."""

    deleted = django_filters.ChoiceFilter(method="filter_deleted", label="Show", choices=[("only", "Deleted")])

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        user = getattr(request, "user", None)
        meta = self._meta.model._meta
        if user is None or not user.has_perm(f"{meta.app_label}.delete_{meta.model_name}"):
            del self.filters["deleted"]
        else:
            plural = meta.verbose_name_plural
            self.filters["deleted"].extra.update(choices=[("only", f"Deleted {plural}")], empty_label=f"Live {plural}")
        for name in ("deleted", "sort"):  # the form ends with the switch and the sort order, after the filters
            if name in self.filters:
                self.filters[name] = self.filters.pop(name)
        if "deleted" not in self.filters or (self.data or {}).get("deleted") != "only":
            self.queryset = self.queryset.filter(deleted_at__isnull=True)

    def filter_deleted(self, queryset, name, value):
        return queryset.filter(deleted_at__isnull=False)
