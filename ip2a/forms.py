"""Form machinery shared by every app: the reason field history asks for, database errors as form errors, the
select widget for long lists of records, and model validation with the check constraints in one query (the form
renderer is ip2a/form_renderer.py)."""

import contextlib
from collections import OrderedDict

from django import forms
from django.apps import apps
from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import DatabaseError, IntegrityError, connections, models, transaction
from django.db.models import BooleanField, CheckConstraint, F, UniqueConstraint, Value
from django.db.models.functions import Coalesce
from django.db.models.sql import Query
from django.db.models.sql.constants import SINGLE
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from ip2a.caching import epoch, query_versions, remember

GENERIC_CONFLICT = "This change conflicts with data already stored; nothing was saved."
REASON_HELP = "Kept in the record's history."
DATE_INPUT = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})  # the browser's date picker, ISO value


def reason_field(*, required: bool = False, help_text: str | None = None, label: str = "Reason") -> forms.CharField:
    """The reason field of every form that changes records: it lands in the history context (DOMAIN.md §6)."""
    return forms.CharField(
        max_length=500,
        required=required,
        label=label,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=help_text or REASON_HELP + ("" if required else " Optional."),
    )


class ReasonForm(forms.Form):
    """The reason DOMAIN.md §6 requires for deleting, restoring and some status changes (kept in the history)."""

    reason = reason_field(required=True, help_text=REASON_HELP)


def constraint_message(name: str) -> str | None:
    """The violation message a model declares for the database constraint ``name``, if any."""
    for model in apps.get_models():
        for constraint in model._meta.constraints:
            full = constraint.name % {"app_label": model._meta.app_label, "class": model._meta.model_name}
            if full == name:
                return str(constraint.violation_error_message)
    return None


def integrity_error_message(exc: IntegrityError) -> str:
    """A human sentence for a constraint the database refused (the model's message when it declares one)."""
    diag = getattr(exc.__cause__, "diag", None)
    name = getattr(diag, "constraint_name", None)
    return (name and constraint_message(name)) or GENERIC_CONFLICT


def save_refused_by_database(instance) -> None:
    """Validate ``instance``'s fields and clean() (raised as messages of the whole record), then save it, leaving
    the model's constraints to the database, which enforces them on the INSERT or UPDATE: asking them first
    costs a query and a savepoint of every write. A refusal becomes a ValidationError carrying the constraint's
    own message. For services inside transaction.atomic(): as the error leaves it, their transaction (or
    savepoint) is rolled back, with whatever they wrote before."""
    try:
        instance.full_clean(validate_constraints=False)
    except ValidationError as exc:
        raise ValidationError(exc.messages) from exc  # callers show them as messages of the whole form
    try:
        instance.save()
    except IntegrityError as exc:
        raise ValidationError(integrity_error_message(exc)) from exc


class AnyYesNoSelect(forms.Select):
    """The widget of a yes/no list filter: "Any" (not filtered), "Yes" or "No" (Django's says "Unknown")."""

    def __init__(self, attrs=None):
        super().__init__(attrs, choices=[("", "Any"), ("true", "Yes"), ("false", "No")])


# --- Check constraints in one query ------------------------------------------------------------------------
#
# Django validates each CheckConstraint of a model with a query of its own (SELECT 1 WHERE <condition>, in a
# savepoint when inside a transaction): a member's five checks cost five round trips on every save, and a job
# added through employment_add() is validated twice (form, then service). The functions below ask the same
# conditions, against the same values, in one query, then let the model's own validate_constraints() run with
# the answers, so its exclusions, its overrides and the order and shape of its errors stay Django's. A row read
# from the database has asked of it only the constraints that read a field changed since (an edit of a member's
# phone asked the five checks and the number's uniqueness: a third of that POST's time).


class _RecordedCheck:
    """Stands for a check constraint during a first, silent pass: notes what it would be asked."""

    def __init__(self, constraint, calls):
        self.constraint, self.calls = constraint, calls

    def __getattr__(self, name):
        return getattr(self.constraint, name)

    def validate(self, model, instance, exclude=None, using=None):
        self.calls.append((self.constraint, model, exclude, using))


class _SilentConstraint:
    """Any other constraint during the first pass: not asked yet."""

    def __init__(self, constraint):
        self.constraint = constraint

    def __getattr__(self, name):
        return getattr(self.constraint, name)

    def validate(self, *args, **kwargs):
        pass


class _AnsweredCheck(_SilentConstraint):
    """A check constraint whose answer the one query gave."""

    def __init__(self, constraint, failed: bool):
        super().__init__(constraint)
        self.failed = failed

    def validate(self, *args, **kwargs):
        if self.failed:
            raise ValidationError(
                self.constraint.get_violation_error_message(), code=self.constraint.violation_error_code
            )


def _failed_checks(instance, calls) -> set | None:
    """The ids of the constraints of ``calls`` whose condition is false for ``instance``: one query per model and
    set of exclusions (one in practice). None when the database refuses the query (Django then asks them one by
    one)."""
    failed, groups = set(), {}
    for constraint, model, exclude, using in calls:
        if exclude and constraint._expression_refs_exclude(model, constraint.condition, exclude):
            continue  # as CheckConstraint.validate(): a condition on an excluded field is not checked
        groups.setdefault((model, frozenset(exclude or ()), using), []).append(constraint)
    for (model, exclude, using), constraints in groups.items():
        connection = connections[using]
        if not connection.features.supports_comparing_boolean_expr:
            return None
        query = Query(None)
        for name, value in instance._get_field_expression_map(meta=model._meta, exclude=set(exclude)).items():
            query.add_annotation(value if hasattr(value, "resolve_expression") else Value(value), name, select=False)
        for index, constraint in enumerate(constraints):
            # As CheckConstraint.validate(): a condition that is UNKNOWN (NULL) does not fail.
            condition = Coalesce(constraint.condition, True, output_field=BooleanField())
            query.add_annotation(condition, f"_check_{index}")
        compiler = query.get_compiler(using=using)
        try:
            with transaction.atomic(using=using) if connection.in_atomic_block else contextlib.nullcontext():
                row = compiler.execute_sql(SINGLE)
        except DatabaseError:
            return None
        failed.update(id(constraint) for constraint, holds in zip(constraints, row, strict=True) if not holds)
    return failed


# The two private helpers of Django's own CheckConstraint.validate() that _failed_checks() reuses, so that it
# asks exactly what Django would; a Django without them gets Django's one-query-per-check path.
ONE_QUERY_CHECKS = hasattr(CheckConstraint, "_expression_refs_exclude") and hasattr(
    models.Model, "_get_field_expression_map"
)


def validate_constraints(instance, exclude=None) -> None:
    """``instance.validate_constraints(exclude)`` (the model's own, overrides included), with every check
    constraint answered by one query instead of one query each, and none asked that the row's stored values
    settle already (settled_by_stored_values); raises the same ValidationError."""
    model_validate = type(instance).validate_constraints
    changed = changed_fields(instance)
    constraints = [
        (model, [c for c in group if not settled_by_stored_values(model, c, changed)])
        for model, group in instance.get_constraints()
    ]
    if not ONE_QUERY_CHECKS or sum(isinstance(c, CheckConstraint) for _m, group in constraints for c in group) < 2:
        with _constraints_as(instance, constraints):
            model_validate(instance, exclude=exclude)
        return
    calls = []
    recorded = [
        (model, [_RecordedCheck(c, calls) if isinstance(c, CheckConstraint) else _SilentConstraint(c) for c in group])
        for model, group in constraints
    ]
    with _constraints_as(instance, recorded):
        model_validate(instance, exclude=exclude)  # which checks the model asks, with which exclusions
        failed = _failed_checks(instance, calls)
    answered = constraints
    if failed is not None:
        answered = [
            (model, [_AnsweredCheck(c, id(c) in failed) if isinstance(c, CheckConstraint) else c for c in group])
            for model, group in constraints
        ]
    with _constraints_as(instance, answered):
        model_validate(instance, exclude=exclude)


@contextlib.contextmanager
def _constraints_as(instance, constraints):
    """Let the model's validate_constraints() see ``constraints`` as instance.get_constraints() for the block."""
    instance.get_constraints = lambda: constraints
    try:
        yield
    finally:
        del instance.get_constraints


def changed_fields(instance) -> frozenset | None:
    """The names and attnames of the concrete fields whose value differs from the one the row was read with
    (TimestampedModel.loaded_values); None for a row not read from the database, or given another primary key
    since (every field counts as changed)."""
    loaded = instance.loaded_values() if hasattr(instance, "loaded_values") else {}
    pk = instance._meta.pk.attname
    if not loaded or pk not in loaded or instance.pk is None or instance.pk != loaded[pk]:
        return None  # not read from the database, or a copy about to be saved as another row
    changed = set()
    for field in instance._meta.concrete_fields:
        attname = field.attname
        if attname not in loaded or instance.__dict__.get(attname, loaded[attname]) != loaded[attname]:
            changed |= {field.name, attname}
    return frozenset(changed)


def settled_by_stored_values(model, constraint, changed: frozenset | None) -> bool:
    """Whether ``constraint`` need not be asked before a save because every field it reads still holds the
    value the row was read with: the database enforced it when that value was written, so a check on the
    row's own values holds, and no other row holds the same unique values. (A row changed since it was read
    is not seen here: the database still refuses a save that breaks a constraint, and the form shows its
    message, ip2a.views.SaveInTransactionMixin.) Constraints on expressions, and kinds other than check and
    unique constraints, are always asked."""
    if changed is None or not ONE_QUERY_CHECKS:  # the helpers below are the ones Django's own validate() uses
        return False

    def reads_only_unchanged(expression) -> bool:
        # A condition that names no field (raw SQL, say) cannot be judged by its fields: it is asked. Django's
        # helper follows generated fields to the fields they are computed from.
        if not list(model._get_expr_references(expression)):
            return False
        return not constraint._expression_refs_exclude(model, expression, changed)

    if isinstance(constraint, CheckConstraint):
        return reads_only_unchanged(constraint.condition)
    if isinstance(constraint, UniqueConstraint) and constraint.fields and not constraint.expressions:
        if not all(reads_only_unchanged(F(name)) for name in constraint.fields):
            return False
        return constraint.condition is None or reads_only_unchanged(constraint.condition)
    return False


def full_clean(instance, exclude=None) -> None:
    """``instance.full_clean(exclude)``, its constraints validated by validate_constraints() above."""
    instance.validate_constraints = lambda exclude=None: validate_constraints(instance, exclude=exclude)
    try:
        instance.full_clean(exclude=exclude)
    finally:
        del instance.validate_constraints


class OneQueryChecksMixin:
    """For ModelForms: the model's check constraints validated in one query, and on an edit only those that read
    a changed field (validate_constraints above): an edit of a member's phone asks nothing."""

    def validate_constraints(self):
        try:
            validate_constraints(self.instance, exclude=self._get_validation_exclusions())
        except ValidationError as exc:
            self._update_errors(exc)


OPTIONS_KEPT = 200  # option lists kept per process (KeptOptionsSelect)
_kept_options: OrderedDict = OrderedDict()


class KeptOptionsSelect(forms.Select):
    """The <select> of a model choice field with many rows (the employers of a job form), whose <option> list is
    rendered once per query, label function and data version of the tables it reads (ip2a.caching), per
    process, then reused with the chosen value marked. Django renders every option through two templates: 600
    employers cost ~30 ms of each form page. Multiple selects, choices that are not a query, and queries that
    read a table without history render as Django renders them."""

    def render(self, name, value, attrs=None, renderer=None):
        field = getattr(self.choices, "field", None)
        queryset = getattr(self.choices, "queryset", None)
        if self.allow_multiple_selected or field is None or queryset is None:
            return super().render(name, value, attrs, renderer)
        try:
            versions = query_versions(queryset)
            sql, params = queryset.query.sql_with_params()
        except EmptyResultSet:
            versions = None
        if versions is None:
            return super().render(name, value, attrs, renderer)
        label = getattr(field.label_from_instance, "__qualname__", repr(field.label_from_instance))
        versions_key = tuple(sorted(versions.items()))
        key = (sql, tuple(map(repr, params)), versions_key, epoch(), field.empty_label, field.to_field_name, label)
        options = _kept_options.get(key)
        if options is None:
            options = [
                (
                    str(choice),
                    format_html('<option value="{}">{}</option>', str(choice), text),
                    format_html('<option value="{}" selected>{}</option>', str(choice), text),
                )
                for choice, text in self.choices
            ]
            remember(_kept_options, key, options, OPTIONS_KEPT)
        chosen = set(self.format_value(value))
        body = "\n  ".join(selected if choice in chosen else plain for choice, plain, selected in options)
        attributes = mark_safe(
            "".join(  # as django/forms/widgets/attrs.html writes them, in their order
                format_html(" {}", key) if item is True else format_html(' {}="{}"', key, item)
                for key, item in self.build_attrs(self.attrs, attrs).items()
                if item is not False
            )
        )
        return format_html('<select name="{}"{}>\n  {}\n</select>', name, attributes, mark_safe(body))
