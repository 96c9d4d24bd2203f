"""AUD-001 and AUD-002: the history triggers are installed and enabled (faults are injected as DDL, which the
test transaction rolls back)."""

from datetime import date

import pghistory.trigger
import pgtrigger
import pytest
from django.db import connection

import audit.integrity  # noqa: F401  (registers AUD-001 and AUD-002)
from ip2a.integrity import CHECKS, CheckContext, run_check

pytestmark = pytest.mark.django_db

CONTEXT = CheckContext(today=date(2026, 5, 4))


def pgid(uri: str) -> str:
    """The PostgreSQL name of the registered trigger ``app.Model:trigger_name``."""
    [(model, trigger)] = pgtrigger.registered(uri)
    return trigger.get_pgid(model)


def execute(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def test_event_tables_are_append_only_finds_nothing_on_a_migrated_database(django_assert_num_queries):
    with django_assert_num_queries(1):
        issues = run_check(CHECKS["AUD-001"], CONTEXT)

    assert issues == []


def test_event_tables_are_append_only_reports_a_disabled_trigger():
    name = pgid("members.MemberEvent:append_only")
    execute(f"ALTER TABLE members_memberevent DISABLE TRIGGER {name}")

    issues = run_check(CHECKS["AUD-001"], CONTEXT)

    assert [(issue.model, issue.object_ids, issue.details) for issue in issues] == [
        (
            "members.MemberEvent",
            ["members_memberevent"],
            {"table": "members_memberevent", "triggers": {name: "disabled"}},
        )
    ]
    assert issues[0].message == (
        f"Table members_memberevent (members.MemberEvent) is not protected against UPDATE and DELETE: "
        f"trigger {name} is disabled."
    )
    assert (issues[0].severity, issues[0].repair, issues[0].fix) == ("critical", None, None)


def test_event_tables_are_append_only_reports_a_dropped_trigger_of_the_access_log():
    name = pgid("audit.AccessLog:append_only")
    execute(f"DROP TRIGGER {name} ON audit_accesslog")

    issues = run_check(CHECKS["AUD-001"], CONTEXT)

    assert [(issue.model, issue.details) for issue in issues] == [
        ("audit.AccessLog", {"table": "audit_accesslog", "triggers": {name: "missing"}})
    ]
    assert (issues[0].repair, issues[0].fix) == (None, None)


def test_event_tables_are_append_only_reports_a_trigger_that_differs_from_its_declaration():
    name = pgid("training.CohortEvent:append_only")
    execute(f"COMMENT ON TRIGGER {name} ON training_cohortevent IS 'an older definition'")

    issues = run_check(CHECKS["AUD-001"], CONTEXT)

    assert [issue.details for issue in issues] == [{"table": "training_cohortevent", "triggers": {name: "outdated"}}]


def test_event_tables_are_append_only_reports_a_trigger_firing_only_for_replicas():
    name = pgid("attachments.AttachmentEvent:append_only")
    execute(f"ALTER TABLE attachments_attachmentevent ENABLE REPLICA TRIGGER {name}")

    issues = run_check(CHECKS["AUD-001"], CONTEXT)

    assert [issue.details for issue in issues] == [
        {"table": "attachments_attachmentevent", "triggers": {name: "disabled"}}
    ]


def test_event_tables_are_append_only_reports_an_event_table_declaring_no_protection(monkeypatch):
    registered = pgtrigger.registered()
    without = [
        (model, trigger) for model, trigger in registered if model._meta.label != "members.MemberEmploymentEvent"
    ]
    monkeypatch.setattr(pgtrigger, "registered", lambda: without)

    issues = run_check(CHECKS["AUD-001"], CONTEXT)

    assert [(issue.model, issue.details) for issue in issues] == [
        ("members.MemberEmploymentEvent", {"table": "members_memberemploymentevent", "triggers": {}})
    ]


def test_tracked_models_record_history_finds_nothing_on_a_migrated_database(django_assert_num_queries):
    with django_assert_num_queries(1):
        issues = run_check(CHECKS["AUD-002"], CONTEXT)

    assert issues == []


def test_tracked_models_record_history_reports_a_dropped_history_trigger():
    name = pgid("members.Member:update_update")
    execute(f"DROP TRIGGER {name} ON members_member")

    issues = run_check(CHECKS["AUD-002"], CONTEXT)

    assert [(issue.model, issue.object_ids, issue.details) for issue in issues] == [
        ("members.Member", ["members_member"], {"table": "members_member", "triggers": {name: "missing"}})
    ]
    assert issues[0].message == (
        f"Table members_member (members.Member) does not record its changes in history: trigger {name} is missing."
    )
    assert (issues[0].severity, issues[0].repair, issues[0].fix) == ("critical", None, None)


def test_tracked_models_record_history_reports_disabled_triggers_of_auth_tables_in_one_finding_per_table():
    insert, delete = pgid("audit.TrackedUserGroup:insert_insert"), pgid("audit.TrackedUserGroup:delete_delete")
    execute(f"ALTER TABLE auth_user_groups DISABLE TRIGGER {insert}")
    execute(f"DROP TRIGGER {delete} ON auth_user_groups")
    execute("ALTER TABLE auth_user DISABLE TRIGGER USER")

    issues = run_check(CHECKS["AUD-002"], CONTEXT)

    user_triggers = {
        pgid(f"audit.TrackedUser:{operation}_{operation}"): "disabled" for operation in ("insert", "update", "delete")
    }
    assert [(issue.model, issue.details) for issue in issues] == [
        ("audit.TrackedUser", {"table": "auth_user", "triggers": dict(sorted(user_triggers.items()))}),
        (
            "audit.TrackedUserGroup",
            {"table": "auth_user_groups", "triggers": dict(sorted({insert: "disabled", delete: "missing"}.items()))},
        ),
    ]


def test_tracked_models_record_history_ignores_the_append_only_triggers():
    execute(f"ALTER TABLE members_memberevent DISABLE TRIGGER {pgid('members.MemberEvent:append_only')}")

    assert run_check(CHECKS["AUD-002"], CONTEXT) == []


def test_tracked_models_record_history_reports_a_tracked_model_declaring_no_history_triggers(monkeypatch):
    registered = pgtrigger.registered()
    without = [
        (model, trigger)
        for model, trigger in registered
        if not (model._meta.label == "training.Credential" and isinstance(trigger, pghistory.trigger.Event))
    ]
    monkeypatch.setattr(pgtrigger, "registered", lambda: without)

    issues = run_check(CHECKS["AUD-002"], CONTEXT)

    assert [(issue.model, issue.details) for issue in issues] == [
        ("training.Credential", {"table": "training_credential", "triggers": {}})
    ]
