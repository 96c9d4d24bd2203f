"""SYS-001 and SYS-002: the declared constraints and indexes exist, and every migration is applied (faults are
injected as DDL or recorder rows, which the test transaction rolls back)."""

from datetime import date

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

import ip2a.system_checks  # noqa: F401  (registers SYS-001 and SYS-002)
from ip2a.integrity import CHECKS, CheckContext, run_check

pytestmark = pytest.mark.django_db

CONTEXT = CheckContext(today=date(2026, 5, 4))


def execute(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def test_declared_constraints_exist_finds_nothing_on_a_migrated_database(django_assert_num_queries):
    with django_assert_num_queries(1):
        issues = run_check(CHECKS["SYS-001"], CONTEXT)

    assert issues == []


@pytest.mark.parametrize(
    ("model", "table", "name", "kind", "drop"),
    [
        (
            "members.MemberEmployment",
            "members_memberemployment",
            "members_memberemployment_one_current_job",
            "unique index",
            "DROP INDEX members_memberemployment_one_current_job",
        ),
        (
            "members.MemberEmployment",
            "members_memberemployment",
            "members_memberemployment_end_after_start",
            "check constraint",
            "ALTER TABLE members_memberemployment DROP CONSTRAINT members_memberemployment_end_after_start",
        ),
        (
            "members.Member",
            "members_member",
            "members_member_member_number_unique",
            "unique constraint",
            "ALTER TABLE members_member DROP CONSTRAINT members_member_member_number_unique",
        ),
        ("members.Member", "members_member", "member_live_order_idx", "index", "DROP INDEX member_live_order_idx"),
        ("audit.AccessLog", "audit_accesslog", "accesslog_target_idx", "index", "DROP INDEX accesslog_target_idx"),
    ],
)
def test_declared_constraints_exist_reports_a_dropped_object_by_name(model, table, name, kind, drop):
    execute(drop)

    issues = run_check(CHECKS["SYS-001"], CONTEXT)

    assert [(issue.model, issue.object_ids, issue.details) for issue in issues] == [
        (model, [name], {"table": table, "name": name, "kind": kind, "state": "missing"})
    ]
    assert issues[0].message == f"The {kind} {name} on table {table} ({model}) is missing."
    assert (issues[0].severity, issues[0].repair, issues[0].fix) == ("critical", None, None)


def test_declared_constraints_exist_reports_each_missing_object_once():
    execute("DROP INDEX members_memberemployment_one_current_job")
    execute("ALTER TABLE training_cohort DROP CONSTRAINT training_cohort_end_after_start")

    issues = run_check(CHECKS["SYS-001"], CONTEXT)

    assert sorted(issue.details["name"] for issue in issues) == [
        "members_memberemployment_one_current_job",
        "training_cohort_end_after_start",
    ]


def test_declared_constraints_exist_reports_a_check_constraint_added_not_valid():
    execute(
        "ALTER TABLE members_memberemployment DROP CONSTRAINT members_memberemployment_hourly_rate_positive, "
        "ADD CONSTRAINT members_memberemployment_hourly_rate_positive CHECK (hourly_rate > 0) NOT VALID"
    )

    issues = run_check(CHECKS["SYS-001"], CONTEXT)

    assert [issue.details for issue in issues] == [
        {
            "table": "members_memberemployment",
            "name": "members_memberemployment_hourly_rate_positive",
            "kind": "check constraint",
            "state": "not validated",
        }
    ]


def test_declared_constraints_exist_reports_a_plain_index_in_place_of_a_unique_one():
    execute("DROP INDEX organizations_organizationcontact_one_primary_contact")
    execute(
        "CREATE INDEX organizations_organizationcontact_one_primary_contact "
        "ON organizations_organizationcontact (organization_id)"
    )

    issues = run_check(CHECKS["SYS-001"], CONTEXT)

    assert [issue.details for issue in issues] == [
        {
            "table": "organizations_organizationcontact",
            "name": "organizations_organizationcontact_one_primary_contact",
            "kind": "unique index",
            "state": "not unique",
        }
    ]


def test_declared_constraints_exist_does_not_accept_a_constraint_of_the_same_name_on_another_table():
    execute("ALTER TABLE training_cohort DROP CONSTRAINT training_cohort_status_valid")
    execute("ALTER TABLE training_enrollment ADD CONSTRAINT training_cohort_status_valid CHECK (TRUE)")

    issues = run_check(CHECKS["SYS-001"], CONTEXT)

    assert [(issue.details["table"], issue.details["name"]) for issue in issues] == [
        ("training_cohort", "training_cohort_status_valid")
    ]


def test_migrations_are_applied_finds_nothing_on_a_migrated_database():
    assert run_check(CHECKS["SYS-002"], CONTEXT) == []


def test_migrations_are_applied_reports_an_unapplied_migration():
    MigrationRecorder(connection).record_unapplied("sessions", "0001_initial")

    issues = run_check(CHECKS["SYS-002"], CONTEXT)

    assert [(issue.model, issue.object_ids, issue.details) for issue in issues] == [
        ("migrations.Migration", ["sessions.0001_initial"], {"migrations": ["sessions.0001_initial"]})
    ]
    assert issues[0].message == "1 migration is not applied: sessions.0001_initial."
    assert (issues[0].severity, issues[0].repair, issues[0].fix) == ("critical", None, None)


def test_migrations_are_applied_lists_every_unapplied_migration_in_one_finding():
    recorder = MigrationRecorder(connection)
    recorder.record_unapplied("sessions", "0001_initial")
    recorder.record_unapplied("admin", "0003_logentry_add_action_flag_choices")

    issues = run_check(CHECKS["SYS-002"], CONTEXT)

    assert [issue.object_ids for issue in issues] == [
        ["admin.0003_logentry_add_action_flag_choices", "sessions.0001_initial"]
    ]
