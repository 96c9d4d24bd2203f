"""What tests use to exercise database rules: expect a named constraint to refuse a write, read a constraint's
declared message, see a form's messages, and inject faults (raw SQL with triggers off, a dropped rule)."""

from contextlib import contextmanager

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.forms import modelform_factory


@contextmanager
def violates(constraint_name):
    """Expect the write inside the block to be rejected by exactly this database constraint."""
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        yield
    assert excinfo.value.__cause__.diag.constraint_name == constraint_name


def constraint(model, rule):
    name = f"{model._meta.app_label}_{model._meta.model_name}_{rule}"
    [found] = [c for c in model._meta.constraints if c.name == name]
    return found


def message(model, rule):
    return constraint(model, rule).violation_error_message


def form_messages(model, fields, data):
    form = modelform_factory(model, fields=fields)(data=data)
    assert not form.is_valid()
    return [text for texts in form.errors.values() for text in texts]


def constraint_messages(instance, *, full_clean=True):
    try:
        instance.full_clean() if full_clean else instance.validate_constraints()
    except ValidationError as exc:
        return exc.messages
    return []


def index_definition(name):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
        [(definition,)] = cursor.fetchall()
    return definition


def execute(sql, params=(), *, replica=False):
    """Run raw SQL; with replica, foreign-key and history triggers are off for that statement only."""
    with connection.cursor() as cursor:
        if replica:
            cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            if replica:
                cursor.execute("SET session_replication_role = origin")


def drop_rule(model, rule):
    """Drop a named constraint (or partial unique index); the test's transaction rolls the DDL back."""
    name = f"{model._meta.app_label}_{model._meta.model_name}_{rule}"
    with connection.cursor() as cursor:
        # Run the deferred foreign-key checks of earlier inserts now: ALTER TABLE refuses pending ones.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute("SELECT 1 FROM pg_constraint WHERE conname = %s", [name])
        if cursor.fetchone():
            cursor.execute(f"ALTER TABLE {model._meta.db_table} DROP CONSTRAINT {name}")
        else:
            cursor.execute(f"DROP INDEX {name}")


def last_event(model, pk):
    return model.pgh_event_model.objects.filter(pgh_obj_id=pk).order_by("pgh_id").last()
