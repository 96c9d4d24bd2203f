"""Integrity checks of the schema itself (DOMAIN.md §8, SYS-*): the declared constraints and indexes exist in
PostgreSQL, and every migration is applied. Registered by the import at the end of ip2a/integrity.py (the
registry's autodiscovery imports ``<app>.integrity``, which in this app is the registry itself)."""

from django.apps import apps
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor

from ip2a.integrity import Issue, register

SCHEMA_APPS = ("organizations", "members", "training", "audit", "attachments")

# pg_constraint.contype of the constraint kinds (None: any type); the other kinds are indexes (pg_index).
CONSTRAINT_TYPES = {"check constraint": "c", "unique constraint": "u", "constraint": None}

# One row per declared object that PostgreSQL lacks or does not fully enforce: a constraint added NOT VALID,
# an index left invalid by a failed concurrent build, or a plain index in place of a unique one.
SCHEMA_PROBLEMS_SQL = """
    SELECT declared.position,
           CASE WHEN con.oid IS NULL AND ix.indexrelid IS NULL THEN 'missing'
                WHEN declared.kind = 'unique index' AND NOT ix.indisunique THEN 'not unique'
                WHEN con.oid IS NOT NULL THEN 'not validated'
                ELSE 'invalid'
           END
    FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[])
        WITH ORDINALITY AS declared(tbl, name, kind, contype, position)
    LEFT JOIN pg_constraint con
        ON declared.kind NOT IN ('index', 'unique index')
       AND con.conrelid = to_regclass(declared.tbl)
       AND con.conname = declared.name
       AND (declared.contype IS NULL OR con.contype::text = declared.contype)
    LEFT JOIN (pg_index ix JOIN pg_class ixc ON ixc.oid = ix.indexrelid)
        ON declared.kind IN ('index', 'unique index')
       AND ix.indrelid = to_regclass(declared.tbl)
       AND ixc.relname = declared.name
    WHERE NOT COALESCE(con.convalidated, ix.indisvalid AND (ix.indisunique OR declared.kind = 'index'), FALSE)
"""

STATE_WORDS = {
    "missing": "is missing",
    "not validated": "was added NOT VALID (the rows written before it were never checked)",
    "invalid": "is invalid (left behind by a failed build)",
    "not unique": "is not unique",
}


def schema_kind(constraint) -> str:
    """How PostgreSQL holds a declared constraint or index (a CONSTRAINT_TYPES key, "unique index" or "index")."""
    if isinstance(constraint, models.Index):
        return "index"
    if isinstance(constraint, models.CheckConstraint):
        return "check constraint"
    if isinstance(constraint, models.UniqueConstraint):
        # Django creates these as CREATE UNIQUE INDEX, which has no pg_constraint row.
        as_index = constraint.condition or constraint.include or constraint.opclasses or constraint.expressions
        return "unique index" if as_index else "unique constraint"
    return "constraint"


def declared_schema_objects() -> list[tuple]:
    """(model, table, name, kind) of every constraint and index declared in the domain models' Meta."""
    declared = []
    for app_label in SCHEMA_APPS:
        for model in apps.get_app_config(app_label).get_models():
            if model._meta.proxy or not model._meta.managed:
                continue
            for item in [*model._meta.constraints, *model._meta.indexes]:
                declared.append((model, model._meta.db_table, item.name, schema_kind(item)))
    return declared


@register("SYS-001", severity="critical", model="")
def declared_constraints_exist(context):
    """Every constraint and index declared in the domain models exists in PostgreSQL and is enforced."""
    declared = declared_schema_objects()
    with connection.cursor() as cursor:
        cursor.execute(
            SCHEMA_PROBLEMS_SQL,
            [
                [connection.ops.quote_name(table) for _model, table, _name, _kind in declared],
                [name for _model, _table, name, _kind in declared],
                [kind for _model, _table, _name, kind in declared],
                [CONSTRAINT_TYPES.get(kind) for _model, _table, _name, kind in declared],
            ],
        )
        problems = cursor.fetchall()
    for position, state in sorted(problems):
        model, table, name, kind = declared[position - 1]
        yield Issue(
            message=f"The {kind} {name} on table {table} ({model._meta.label}) {STATE_WORDS[state]}.",
            object_ids=[name],
            details={"table": table, "name": name, "kind": kind, "state": state},
            model=model._meta.label,
        )


@register("SYS-002", severity="critical", model="migrations.Migration")
def migrations_are_applied(context):
    """Every migration of every installed app is applied to the database."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    pending = [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]
    if pending:
        count = f"{len(pending)} migrations are" if len(pending) > 1 else "1 migration is"
        yield Issue(
            message=f"{count} not applied: {', '.join(pending)}.",
            object_ids=pending,
            details={"migrations": pending},
        )
