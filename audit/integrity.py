"""Integrity checks of the change history (DOMAIN.md §6, §8): the triggers that record history and keep it
append-only. The expected triggers come from pgtrigger's registry; one catalog query compares them with
what PostgreSQL has installed."""

import pghistory.models
import pghistory.trigger
import pgtrigger
from django.apps import apps
from django.db import connection

from audit.models import AccessLog
from ip2a.integrity import Issue, register

# One row per declared trigger that does not work as declared. A trigger fires in normal sessions only when
# enabled as O (origin) or A (always); pgtrigger writes the hash of its definition into the trigger's comment,
# so a different comment means an older or hand-made trigger under the same name.
TRIGGER_PROBLEMS_SQL = """
    SELECT declared.position,
           CASE WHEN to_regclass(declared.tbl) IS NULL THEN 'table missing'
                WHEN tg.oid IS NULL THEN 'missing'
                WHEN tg.tgenabled NOT IN ('O', 'A') THEN 'disabled'
                ELSE 'outdated'
           END
    FROM unnest(%s::text[], %s::text[], %s::text[]) WITH ORDINALITY AS declared(tbl, pgid, hash, position)
    LEFT JOIN pg_trigger tg ON tg.tgrelid = to_regclass(declared.tbl) AND tg.tgname = declared.pgid
    WHERE tg.oid IS NULL
       OR tg.tgenabled NOT IN ('O', 'A')
       OR obj_description(tg.oid, 'pg_trigger') IS DISTINCT FROM declared.hash
"""

STATE_WORDS = {"missing": "is missing", "disabled": "is disabled", "outdated": "differs from its declaration"}


def event_models() -> list:
    """The concrete pghistory event models (one event table each)."""
    return [
        model
        for model in apps.get_models()
        if issubclass(model, pghistory.models.Event) and model._meta.managed and not model._meta.proxy
    ]


def trigger_problems(declared: list) -> dict:
    """Map each (model, trigger) pair that PostgreSQL lacks, has disabled or has outdated to that state."""
    if not declared:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            TRIGGER_PROBLEMS_SQL,
            [
                [connection.ops.quote_name(model._meta.db_table) for model, _trigger in declared],
                [trigger.get_pgid(model) for model, trigger in declared],
                [trigger.compile(model).hash for model, trigger in declared],
            ],
        )
        return {declared[position - 1]: state for position, state in cursor.fetchall()}


def trigger_issues(declared: list, undeclared: list, *, problem: str) -> list[Issue]:
    """One finding per table whose declared triggers are not all installed and enabled, or that declares none."""
    by_model: dict = {}
    for (model, trigger), state in trigger_problems(declared).items():
        by_model.setdefault(model, {})[trigger.get_pgid(model)] = state
    issues = [
        Issue(
            message=f"Table {model._meta.db_table} ({model._meta.label}) {problem}: it declares no such trigger.",
            object_ids=[model._meta.db_table],
            details={"table": model._meta.db_table, "triggers": {}},
            model=model._meta.label,
        )
        for model in undeclared
    ]
    for model, triggers in by_model.items():
        table = model._meta.db_table
        if set(triggers.values()) == {"table missing"}:
            reason = "the table does not exist"
        else:
            reason = "; ".join(f"trigger {pgid} {STATE_WORDS[state]}" for pgid, state in sorted(triggers.items()))
        issues.append(
            Issue(
                message=f"Table {table} ({model._meta.label}) {problem}: {reason}.",
                object_ids=[table],
                details={"table": table, "triggers": dict(sorted(triggers.items()))},
                model=model._meta.label,
            )
        )
    return sorted(issues, key=lambda issue: issue.details["table"])


@register("AUD-001", severity="critical", model="pghistory.Events")
def event_tables_are_append_only(context):
    """Every history event table and the access log has its append-only trigger installed and enabled."""
    protected = [*event_models(), AccessLog]
    declared = [
        (model, trigger)
        for model, trigger in pgtrigger.registered()
        if model in protected and isinstance(trigger, pgtrigger.Protect)
    ]
    undeclared = [model for model in protected if model not in {model for model, _trigger in declared}]
    yield from trigger_issues(declared, undeclared, problem="is not protected against UPDATE and DELETE")


@register("AUD-002", severity="critical", model="pghistory.Events")
def tracked_models_record_history(context):
    """Every tracked model has its insert, update and delete history triggers installed and enabled."""
    declared = [
        (model, trigger) for model, trigger in pgtrigger.registered() if isinstance(trigger, pghistory.trigger.Event)
    ]
    fed = {trigger.event_model for _model, trigger in declared}
    undeclared = [event_model.pgh_tracked_model for event_model in event_models() if event_model not in fed]
    yield from trigger_issues(declared, undeclared, problem="does not record its changes in history")
