"""Operator commands: reset, integrity / repair, and the ip2adb wrapper."""

import io
import json
import os
import subprocess
import sys
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from psycopg import sql

from attachments.factories import AttachmentFactory
from audit.models import AccessLog, CommandRun
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member, MemberEmployment
from organizations.factories import OrganizationContactFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_reset_empties_domain_tables_and_storage_but_keeps_users_and_history(make_user, attachments_dir):
    user = make_user("staff")
    attachment = AttachmentFactory()
    MemberEmploymentFactory()
    events_before = Member.pgh_event_model.objects.count()
    AccessLog.objects.create(action="view", username="x")

    out = run("reset", "--yes")

    assert not Member.all_objects.exists()
    assert not MemberEmployment.objects.exists()
    assert not (attachments_dir / attachment.file.name).exists()
    assert User.objects.filter(pk=user.pk).exists()
    assert Member.pgh_event_model.objects.count() == events_before
    assert AccessLog.objects.count() == 1
    assert "history and access log kept" in out


def test_reset_keeps_ids_growing_so_kept_history_never_meets_a_new_row():
    old = MemberFactory()
    run("reset", "--yes")

    assert MemberFactory().pk > old.pk


def test_reset_with_history_empties_history_and_restarts_ids():
    MemberFactory()
    run("reset", "--yes", "--with-history")

    assert not Member.pgh_event_model.objects.exists()
    assert not AccessLog.objects.exists()
    assert MemberFactory().pk == 1
    assert CommandRun.objects.get().command == "reset"  # its own run, recorded anew


def test_reset_without_yes_and_without_terminal_is_refused(monkeypatch):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    MemberFactory()

    with pytest.raises(CommandError, match="without --yes") as refused:
        run("reset")
    assert refused.value.returncode == 2
    assert Member.objects.count() == 1


def test_reset_typed_confirmation_must_match(monkeypatch):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "delete")
    MemberFactory()

    with pytest.raises(CommandError, match="did not match"):
        run("reset")
    assert Member.objects.count() == 1

    monkeypatch.setattr("builtins.input", lambda prompt: "DELETE ALL DATA")
    run("reset")
    assert not Member.objects.exists()


def test_reset_is_refused_in_production_even_with_yes(settings):
    settings.PRODUCTION = True
    MemberFactory()

    with pytest.raises(CommandError, match="refused when IP2A_ENV=production"):
        run("reset", "--yes")
    assert Member.objects.count() == 1


def test_integrity_clean_database_exits_zero_with_one_line():
    out = run("integrity", "--no-files")

    assert "No issues found" in out
    assert CommandRun.objects.get(command="integrity").outcome == "succeeded"


def break_primary_contacts():
    """Two live primary contacts in one organization (CON-002, critical, auto-repairable)."""
    first = OrganizationContactFactory(is_primary=True)
    second = OrganizationContactFactory(organization=first.organization)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("DROP INDEX organizations_organizationcontact_one_primary_contact")
        cursor.execute("UPDATE organizations_organizationcontact SET is_primary = true WHERE id = %s", [second.pk])
    return first, second


def test_integrity_exits_one_while_a_critical_finding_remains():
    break_primary_contacts()

    with pytest.raises(CommandError) as failed:
        run("integrity", "--checks", "CON")
    assert failed.value.returncode == 1


def test_integrity_json_report_has_the_documented_shape(capsys):
    first, second = break_primary_contacts()
    out = io.StringIO()

    with pytest.raises(CommandError):
        call_command("integrity", "--checks", "CON-002", "--json", stdout=out, stderr=io.StringIO())

    report = json.loads(out.getvalue())
    assert set(report) >= {"run_id", "started_at", "finished_at", "environment", "options", "summary", "findings"}
    assert report["summary"] == {"critical": 1, "warning": 0, "info": 0, "fixable": 1}
    finding = report["findings"][0]
    assert (finding["check"], finding["severity"], finding["app"]) == ("CON-002", "critical", "organizations")
    assert sorted(finding["object_ids"]) == sorted([first.pk, second.pk])


def test_repair_is_a_dry_run_until_apply():
    first, second = break_primary_contacts()

    with pytest.raises(CommandError):
        run("repair", "--checks", "CON-002")
    assert OrganizationContactFactory._meta.model.objects.filter(is_primary=True).count() == 2

    out = run("repair", "--checks", "CON-002", "--apply")

    assert "did " in out
    assert "No issues found" in out
    assert OrganizationContactFactory._meta.model.objects.filter(is_primary=True).count() == 1


def test_integrity_export_writes_the_report(tmp_path):
    target = tmp_path / "report.json"

    run("integrity", "--no-files", "--export", str(target))

    assert json.loads(target.read_text())["summary"]["critical"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--checks", "NOPE-1"], "Unknown check id or prefix: NOPE-1"),
        (["--app", "dues"], "Unknown app 'dues'"),
        (["--apply"], "--apply needs --repair"),
        (["--interactive"], "--interactive needs a terminal"),
    ],
)
def test_integrity_usage_errors_exit_two(args, message, monkeypatch):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)

    with pytest.raises(CommandError, match=message) as refused:
        run("integrity", *args)
    assert refused.value.returncode == 2


def test_integrity_needs_force_in_production(settings):
    settings.PRODUCTION = True

    with pytest.raises(CommandError, match="needs --force") as refused:
        run("integrity", "--no-files")
    assert refused.value.returncode == 2
    assert "No issues found" in run("integrity", "--no-files", "--force")


def test_interactive_triage_soft_deletes_the_chosen_missing_files(monkeypatch, attachments_dir):
    keep, drop = AttachmentFactory(), AttachmentFactory()
    for attachment in (keep, drop):
        (attachments_dir / attachment.file.name).unlink()
    answers = iter(["2" if pk == keep.pk else "1" for pk in sorted([keep.pk, drop.pk])] + ["y"])
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))

    out = run("integrity", "--checks", "FIL-003", "--interactive")

    drop.refresh_from_db()
    keep.refresh_from_db()
    assert drop.deleted_at is not None
    assert keep.deleted_at is None
    assert "1 to delete, 1 kept (reviewed), 0 skipped (undecided)." in out
    event = drop.events.last()
    assert event.pgh_context["source"] == "repair"
    assert event.pgh_context["reason"].startswith("integrity repair FIL-003 run ")


def test_interactive_abort_changes_nothing(monkeypatch, attachments_dir):
    attachment = AttachmentFactory()
    (attachments_dir / attachment.file.name).unlink()
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "6")

    out = run("integrity", "--checks", "FIL-003", "--interactive")

    attachment.refresh_from_db()
    assert attachment.deleted_at is None
    assert "Aborted; nothing changed." in out


def ip2adb(*args, env=None):
    return subprocess.run(
        [str(settings.BASE_DIR / "ip2adb"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_ip2adb_help_lists_every_subcommand():
    result = ip2adb("--help")

    assert result.returncode == 0
    for name in ("seed", "integrity", "load", "reset", "all"):
        assert f"  {name} " in result.stdout


def test_ip2adb_subcommand_help_describes_the_command_flags():
    result = ip2adb("seed", "--help")

    assert result.returncode == 0
    assert "--random-seed" in result.stdout
    assert "--record-history" in result.stdout


def test_ip2adb_unknown_subcommand_is_a_usage_error():
    assert ip2adb("frobnicate").returncode == 2


@pytest.mark.django_db(transaction=True)
def test_ip2adb_all_quick_reports_each_step(tmp_path):
    db = connection.settings_dict
    url = f"postgresql://{db['USER']}@/{db['NAME']}?host={db['HOST']}&port={db['PORT']}"
    # The seed empties the attachment storage: a folder of this test's own, never var/attachments.
    env = {"DATABASE_URL": url, "IP2A_ENV": "test", "ATTACHMENTS_DIR": str(tmp_path)}

    result = ip2adb("all", "--quick", "--load-run-time", "5s", env=env)

    lines = result.stdout.splitlines()
    summary = lines[lines.index("ip2adb all:") + 1 :]
    assert [line.split()[0] for line in summary[:5]] == ["PASSED", "PASSED", "PASSED", "PASSED", "PASSED"]
    assert "load" in summary[4]
    assert result.returncode == 0
    assert Member.objects.exclude(member_number__startswith="Z").count() == 10  # Z: created by the load step


def test_reset_clears_the_shared_cache():
    cache.set("dashboard-numbers", 42)

    run("reset", "--yes")

    assert cache.get("dashboard-numbers") is None


def test_pagetimes_times_each_page_for_each_role():
    out = run("pagetimes", "--roles", "staff", "--paths", "/", "/members/", "--repeat", "1")

    lines = [line for line in out.splitlines() if line.startswith("staff ")]
    assert [line.split()[1:3] for line in lines] == [["/", "200"], ["/members/", "200"]]
    assert "Timed 2 pages; slowest warm:" in out


def test_pagetimes_needs_no_testserver_in_allowed_hosts(settings):
    settings.ALLOWED_HOSTS = ["portal.example.org"]  # as outside the test environment

    out = run("pagetimes", "--roles", "staff", "--paths", "/members/", "--repeat", "1")

    assert [line.split()[1:3] for line in out.splitlines() if line.startswith("staff ")] == [["/members/", "200"]]
    assert settings.ALLOWED_HOSTS == ["portal.example.org"]  # let in for the command's own requests only


def test_pagetimes_fails_when_a_page_is_not_200():
    with pytest.raises(CommandError, match=r"not 200: /no-such-page/ as staff \(404\)") as failure:
        run("pagetimes", "--roles", "staff", "--paths", "/members/", "/no-such-page/", "--repeat", "1")

    assert failure.value.returncode == 1


def test_pagetimes_default_pages_are_timed_for_the_roles_that_may_open_them():
    out = run("pagetimes", "--roles", "instructor", "--repeat", "1")

    lines = {line.split()[1]: line.split(maxsplit=2)[2] for line in out.splitlines() if line.startswith("instructor ")}
    assert lines["/members/"] == "skipped: the role may not open it"  # no members.view_member (DOMAIN.md §5)
    assert lines["/audit/"] == "skipped: the role may not open it"
    assert lines["/training/students/"].startswith("200 cold")
    assert "Timed 3 pages (2 skipped: not the role's); slowest warm:" in out


def test_pagetimes_skips_a_default_page_refused_by_a_check_it_cannot_see_ahead(monkeypatch):
    """The member's history page checks its permission in has_permission() (per record type), which may_open()
    does not predict: the request's 403 skips it instead."""
    from ip2a.management.commands import pagetimes

    member = MemberFactory()
    monkeypatch.setattr(pagetimes, "DEFAULT_PATHS", ["/training/students/", f"/members/{member.pk}/history/"])

    out = run("pagetimes", "--roles", "instructor", "--repeat", "1")

    assert f"/members/{member.pk}/history/ skipped: the role may not open it (403)" in " ".join(out.split())
    assert "Timed 1 pages (1 skipped: not the role's); slowest warm: /training/students/" in out


def test_pagetimes_fails_on_a_page_named_that_the_role_may_not_open():
    with pytest.raises(CommandError, match=r"not 200: /members/ as instructor \(403\)") as failure:
        run("pagetimes", "--roles", "instructor", "--paths", "/members/", "--repeat", "1")

    assert failure.value.returncode == 1


def test_a_command_on_a_database_not_migrated_says_to_migrate_first(tmp_path):
    server = settings.DATABASES["default"]
    name = "ip2a_not_migrated"
    admin_params = {"host": server["HOST"] or None, "port": server["PORT"] or None, "user": server["USER"]}
    with psycopg.connect(**admin_params, dbname=server["NAME"], autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "IP2A_TEST_DATABASE"}}
        env |= {
            "IP2A_ENV": "dev",
            "DATABASE_URL": f"postgresql://{server['USER']}@/{name}?host={quote(server['HOST'])}&port={server['PORT']}",
            "CACHE_URL": f"file://{tmp_path / 'cache'}",
        }
        result = subprocess.run(
            [sys.executable, "manage.py", "seed", "--quick", "--yes"],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        with psycopg.connect(**admin_params, dbname=server["NAME"], autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    assert result.returncode == 2
    assert "The database is not migrated:" in result.stderr
    assert "Run `python manage.py migrate` first." in result.stderr
    assert "Traceback" not in result.stderr
