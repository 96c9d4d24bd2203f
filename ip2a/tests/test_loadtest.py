import io
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from attachments.factories import AttachmentFactory
from audit.models import CommandRun
from ip2a import loadtest
from ip2a.loadtest import LoadTestUsageError, LocustResult, resolve_config
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import MEMBER_NUMBER_PATTERN
from organizations.factories import EmployerFactory, OrganizationContactFactory, OrganizationFactory
from training.factories import StudentFactory

pytestmark = pytest.mark.django_db

START = 1_700_000_000  # the fixture run's first second


def run(*args):
    call_command("loadtest", *args)


def exit_code_of(*args) -> int:
    with pytest.raises(CommandError) as caught:
        run(*args)
    return caught.value.returncode


# --- Presets and flags ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({}, ("default", 50, 5, 300, (1, 3), "1 in 100")),
        ({"quick": True}, ("quick", 10, 5, 60, (1, 3), "all")),
        ({"stress": True}, ("stress", 200, 10, 600, (1, 3), "1 in 100")),
        ({"target": True}, ("target", 4000, 20, 900, (5, 15), "1 in 100")),
    ],
)
def test_resolve_config_presets(flags, expected):
    config = resolve_config(**flags)

    assert (
        config.preset,
        config.users,
        config.spawn_rate,
        config.run_time,
        config.think_time,
        config.form_logins,
    ) == expected
    assert config.user_classes == ["ReadHeavyUser", "WriteHeavyUser", "MixedUser", "FileOperationsUser"]


def test_resolve_config_flags_override_the_preset():
    config = resolve_config(
        target=True, users=300, spawn_rate=2.5, run_time="1h30m", think_time="0.5-2", prepare_users=12
    )

    assert (config.users, config.spawn_rate, config.run_time, config.think_time) == (300, 2.5, 5400, (0.5, 2.0))
    assert config.prepare_users == 12


def test_resolve_config_prepares_one_account_per_user_up_to_500():
    assert resolve_config(users=40).prepare_users == 40
    assert resolve_config(target=True).prepare_users == 500


def test_resolve_config_pattern_picks_one_user_type():
    assert resolve_config(pattern="file_operations").user_classes == ["FileOperationsUser"]


def test_resolve_config_distributed_runs_every_type_on_workers():
    config = resolve_config(pattern="distributed", processes=3, users=10)

    assert config.processes == 3
    assert len(config.user_classes) == 4
    assert config.member_slices == (4 + 4) * 3  # ceil(10 / 3) users per worker, plus one per class


def test_resolve_config_prepare_only_counts_the_workers_of_every_host():
    config = resolve_config(prepare_only=True, host="http://portal.internal/", users=10, processes=3)

    assert (config.processes, config.workers, config.host) == (3, 3, "http://portal.internal")
    assert len(config.user_classes) == 4
    assert resolve_config(prepare_only=True, host="http://portal.internal").workers == 1
    assert resolve_config(prepare_only=True, host="http://p", pattern="read_heavy", processes=2).processes == 2


def test_resolve_config_without_form_logins_in_production():
    assert resolve_config(quick=True, form_logins_allowed=False).form_logins == "none"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"quick": True, "stress": True}, "Choose one preset"),
        ({"users": 0}, "--users must be at least 1"),
        ({"spawn_rate": 0}, "--spawn-rate must be more than 0"),
        ({"run_time": "ten minutes"}, "--run-time 'ten minutes'"),
        ({"run_time": "0s"}, "at least one second"),
        ({"think_time": "3-1"}, "the minimum is above the maximum"),
        ({"think_time": "fast"}, "use MIN-MAX seconds"),
        ({"pattern": "chaos"}, "--pattern 'chaos'"),
        ({"processes": 2}, "--processes goes with --pattern distributed"),
        ({"pattern": "distributed", "processes": 0}, "--processes must be at least 1"),
        ({"prepare_users": 0}, "--prepare-users must be at least 1"),
        ({"prepare_only": True}, "--prepare-only needs --host"),
    ],
)
def test_resolve_config_refuses_bad_flags(flags, message):
    with pytest.raises(LoadTestUsageError, match=re.escape(message)):
        resolve_config(**flags)


@pytest.mark.parametrize(
    "args",
    [
        ("--users", "0"),
        ("--run-time", "soon"),
        ("--think-time", "5-1"),
        ("--processes", "2"),
        ("--quick", "--target"),
        ("--prepare-only", "--host", "http://127.0.0.1:9"),
        ("--prepare-only", "--pool-file", "pool.json"),
        ("--prepare-only", "--pool-file", "pool.json", "--host", "http://127.0.0.1:9", "--assert-targets"),
        ("--pool-file", "pool.json"),
        ("--end-sessions",),
    ],
)
def test_loadtest_usage_errors_exit_2(args):
    assert exit_code_of(*args) == 2


def test_loadtest_without_data_exits_2():
    assert exit_code_of("--host", "http://127.0.0.1:9") == 2


def test_loadtest_exits_2_when_healthz_is_unreachable():
    MemberFactory()
    OrganizationFactory()

    assert exit_code_of("--host", "http://127.0.0.1:9") == 2
    assert CommandRun.objects.get(command="loadtest").exit_code == 2


def test_loadtest_needs_force_in_production(settings):
    settings.PRODUCTION = True

    assert exit_code_of("--quick") == 2


def test_loadtest_refuses_a_password_in_production(settings, monkeypatch):
    settings.PRODUCTION = True
    monkeypatch.setenv(loadtest.PASSWORD_ENV, "a-secret-password")

    assert exit_code_of("--quick", "--force") == 2
    assert not User.objects.filter(username__startswith=loadtest.USERNAME_PREFIX).exists()


def test_loadtest_refuses_the_password_flag_in_production(settings):
    settings.PRODUCTION = True

    assert exit_code_of("--quick", "--force", "--password", "a-secret-password") == 2


# --- Accounts and sessions ---------------------------------------------------------------------------------


def test_prepare_accounts_creates_staff_users_with_working_sessions(client):
    accounts = loadtest.prepare_accounts(3, "load-test-password")

    assert [name for name, _key in accounts] == ["loadtest-0001", "loadtest-0002", "loadtest-0003"]
    user = User.objects.get(username="loadtest-0002")
    assert list(user.groups.values_list("name", flat=True)) == ["staff"]
    assert user.check_password("load-test-password")
    client.cookies[settings.SESSION_COOKIE_NAME] = accounts[1][1]
    response = client.get("/members/")
    assert response.status_code == 200
    assert response.wsgi_request.user == user


def test_prepare_accounts_again_reuses_the_accounts_and_ends_older_sessions(client):
    first = loadtest.prepare_accounts(2, "first-password-1")

    second = loadtest.prepare_accounts(2, "second-password-2")

    assert User.objects.filter(username__startswith=loadtest.USERNAME_PREFIX).count() == 2
    assert User.objects.get(username="loadtest-0001").check_password("second-password-2")
    client.cookies[settings.SESSION_COOKIE_NAME] = first[0][1]
    assert client.get("/members/").status_code == 302  # the password changed: back to the login page
    client.cookies[settings.SESSION_COOKIE_NAME] = second[0][1]
    assert client.get("/members/").status_code == 200


def test_prepare_accounts_without_password_leaves_it_unusable():
    loadtest.prepare_accounts(1, None)

    assert not User.objects.get(username="loadtest-0001").has_usable_password()


def test_discard_sessions_logs_the_accounts_out(client):
    accounts = loadtest.prepare_accounts(1, None)

    loadtest.discard_sessions([key for _name, key in accounts])

    client.cookies[settings.SESSION_COOKIE_NAME] = accounts[0][1]
    assert client.get("/members/").status_code == 302


# --- Id pools ----------------------------------------------------------------------------------------------


def test_sample_pools_holds_live_rows_without_count_or_offset():
    members = MemberFactory.create_batch(3)
    gone = MemberFactory()
    gone.delete()
    employer, other = EmployerFactory(), OrganizationFactory(org_type="union")
    student = StudentFactory()
    attachment = AttachmentFactory(target_obj=members[0])

    with CaptureQueriesContext(connection) as queries:
        pools = loadtest.sample_pools()

    assert sorted(row[0] for row in pools["members"]) == sorted(member.pk for member in members)
    assert sorted(pools["organizations"]) == sorted([employer.pk, other.pk])
    assert pools["employers"] == [employer.pk]
    assert pools["students"] == [student.pk]
    assert pools["attachments"] == [[attachment.pk, members[0].pk]]
    assert (pools["member_pages"], pools["organization_pages"], pools["student_pages"]) == (1, 1, 1)
    sql = " ".join(query["sql"].upper() for query in queries.captured_queries)
    assert "COUNT(" not in sql
    assert "OFFSET" not in sql


def test_sample_pools_page_counts_stay_inside_the_list():
    MemberFactory.create_batch(5)

    pools = loadtest.sample_pools({"members": 2})

    assert len(pools["members"]) == 2
    assert pools["member_pages"] == 1  # 2 sampled rows prove one page, never more


def test_read_ids_file_fills_the_page_counts(tmp_path):
    path = tmp_path / "ids.json"
    members = [[pk, f"{7000000 + pk}", "Ruiz"] for pk in range(1, 121)]
    path.write_text(
        json.dumps({"members": members, "organizations": [1], "employers": [1], "students": [], "attachments": []})
    )

    pools = loadtest.read_ids_file(str(path))

    assert pools["member_pages"] == 2
    assert "active" in pools["statuses"]


def test_read_ids_file_refuses_a_file_without_pools(tmp_path):
    path = tmp_path / "ids.json"
    path.write_text(json.dumps({"members": []}))

    with pytest.raises(LoadTestUsageError, match="no list of organizations, employers, students, attachments"):
        loadtest.read_ids_file(str(path))


# --- Created member numbers --------------------------------------------------------------------------------


def test_z_member_numbers_are_unique_across_workers_and_valid():
    numbers = [
        loadtest.z_member_number(run, worker, counter)
        for run in (0, 7, 999)
        for worker in (0, 1, 99)
        for counter in (0, 1, 99_999)
    ]

    assert len(set(numbers)) == len(numbers)
    assert all(re.fullmatch(MEMBER_NUMBER_PATTERN, number) for number in numbers)
    assert loadtest.z_member_number(12, 3, 45) == "Z0120300045"


def test_z_member_number_refuses_a_counter_past_its_digits():
    with pytest.raises(ValueError, match="counter 100000"):
        loadtest.z_member_number(1, 0, 100_000)


def test_choose_run_prefix_skips_run_numbers_already_used():
    MemberFactory(member_number="Z0420000001")
    taken = MemberFactory(member_number="Z0430000001")
    taken.delete()  # deleted members keep their numbers for ever

    assert loadtest.choose_run_prefix(1042) == 44


# --- Forms as the simulated users submit them --------------------------------------------------------------


def test_form_fields_resubmits_a_member_form_unchanged(role_client):
    client = role_client("staff")
    member = MemberFactory(notes="Line one\nLine two", phone="555-0100")
    page = client.get(f"/members/{member.pk}/edit/").content.decode()

    fields = loadtest.form_fields(page)
    fields["phone"] = "555-0199"
    response = client.post(f"/members/{member.pk}/edit/", fields)

    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.phone, member.notes, member.classification) == ("555-0199", "Line one\nLine two", "journeyman")
    assert "csrfmiddlewaretoken" in fields


def test_form_fields_reads_the_selected_option_and_checked_boxes():
    page = (
        '<form method="post" action="/accounts/logout/"><input name="csrfmiddlewaretoken" value="x"></form>'
        '<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="t&amp;k">'
        '<select name="organization"><option value="">---</option><option value="7" selected>Acme</option></select>'
        '<input type="checkbox" name="end_current" checked><input type="checkbox" name="is_primary">'
        '<textarea name="notes">\nHello</textarea><button type="submit">Save</button></form>'
    )

    assert loadtest.form_fields(page) == {
        "csrfmiddlewaretoken": "t&k",
        "organization": "7",
        "end_current": "on",
        "notes": "Hello",
    }


# --- Report ------------------------------------------------------------------------------------------------


def entry(name, method, times, *, failures=0, seconds=None):
    """A Locust JSON stats entry for requests with these response times (ms), spread over ``seconds``."""
    histogram = {}
    for value in times:
        histogram[str(value)] = histogram.get(str(value), 0) + 1
    per_second = {}
    for index, _value in enumerate(times):
        second = str((seconds or [START + 10])[index % len(seconds or [START + 10])])
        per_second[second] = per_second.get(second, 0) + 1
    return {
        "name": name,
        "method": method,
        "last_request_timestamp": START + 30,
        "start_time": START,
        "num_requests": len(times),
        "num_none_requests": 0,
        "num_failures": failures,
        "total_response_time": sum(times),
        "max_response_time": max(times),
        "min_response_time": min(times),
        "total_content_length": 0,
        "response_times": histogram,
        "num_reqs_per_sec": per_second,
        "num_fail_per_sec": {},
    }


def history(users_by_second):
    return [
        {"Timestamp": str(START + offset), "User Count": str(users), "Name": "Aggregated"}
        for offset, users in users_by_second
    ]


def result(stats, rows):
    cpu = {"cpu_seconds": 3.0, "wall_seconds": 30.0, "share_of_one_core": 0.1, "share_of_machine": 0.05, "cores": 2}
    return LocustResult(
        returncode=0,
        stats=stats,
        history=rows,
        cpu=cpu,
        server_cpu=None,
        log_path=Path("locust.log"),
        started=START,
        finished=START + 30,
    )


def fixture_report(*, assert_targets=False, detail_times=None, failures=0):
    config = resolve_config(users=10, spawn_rate=1, run_time="30s", assert_targets=assert_targets, host="http://x")
    # 100 member-detail requests of 1..100 ms: half before the ramp-up ended (second 10), half after.
    detail = entry(
        "member detail",
        "GET",
        detail_times or list(range(1, 101)),
        failures=failures,
        seconds=[START + 5, START + 20],
    )
    update = entry("update member", "POST", [300] * 10, seconds=[START + 25])
    login = entry(loadtest.LOGIN, "POST", [2000] * 10, seconds=[START + 2])
    login_form = entry(f"{loadtest.LOGIN}: form", "GET", [900] * 10, seconds=[START + 2])
    rows = history([(0, 1), (5, 6), (10, 10), (20, 10), (30, 10)])
    return loadtest.compute_report(config, result([detail, update, login, login_form], rows), run_prefix=5)


def test_report_per_operation_figures():
    report = fixture_report()

    detail = next(row for row in report["operations"] if row["name"] == "member detail")
    assert (detail["requests"], detail["failures"], detail["average_ms"]) == (100, 0, 50.5)
    assert (detail["median_ms"], detail["p95_ms"], detail["p99_ms"], detail["max_ms"]) == (50, 95, 99, 100)
    assert detail["requests_after_ramp_up"] == 50
    assert detail["requests_per_second"] == 2.5  # 50 requests over the 20 s from second 10 to second 30


def test_report_totals_leave_the_form_logins_out():
    report = fixture_report()

    totals = report["totals"]
    assert [row["name"] for row in report["operations"]] == ["member detail", "update member"]
    assert (totals["requests"], totals["failures"], totals["max_ms"]) == (110, 0, 300)
    assert totals["average_ms"] == round((5050 + 3000) / 110, 1)
    assert (totals["median_ms"], totals["p95_ms"], totals["p99_ms"]) == (55, 300, 300)
    assert totals["requests_per_second"] == 3.0  # (50 + 10) after ramp-up over 20 s
    assert report["logins"]["requests"] == 20
    assert report["measured_period"] == {
        "ramp_up_completed": True,
        "ramp_up_seconds": 10.0,
        "seconds_after_ramp_up": 20.0,
    }


def test_report_ramp_up_not_reached_falls_back_to_the_planned_ramp_up():
    config = resolve_config(users=50, spawn_rate=5, run_time="30s")
    rows = history([(0, 5), (1, 10)])

    report = loadtest.compute_report(config, result([entry("member list", "GET", [10] * 4)], rows))

    assert report["measured_period"]["ramp_up_completed"] is False
    assert report["measured_period"]["ramp_up_seconds"] == 10.0


@pytest.mark.parametrize(
    ("average", "name"),
    [(0, "excellent"), (99.9, "excellent"), (100, "good"), (499, "good"), (999, "fair"), (1000, "poor")],
)
def test_band(average, name):
    assert loadtest.band(average) == name


def test_report_success_above_99_percent_exits_0():
    report = fixture_report(failures=1)  # 1 of 110

    assert report["totals"]["success_rate"] > 0.99
    assert report["exit_code"] == 0


def test_report_success_at_99_percent_or_less_exits_1():
    report = fixture_report(failures=2)  # 2 of 110

    assert report["exit_code"] == 1


def test_report_targets_checked_only_when_asserted():
    plain, asserted = fixture_report(), fixture_report(assert_targets=True)

    assert [target["met"] for target in plain["targets"]] == [True, True, True, False]  # 3 req/s, not 300
    assert plain["exit_code"] == 0
    assert asserted["exit_code"] == 1


def test_verdict_says_a_pass_without_asserted_targets_missed_some_and_a_failure_is_failed():
    plain, asserted, failed = fixture_report(), fixture_report(assert_targets=True), fixture_report(failures=2)

    assert loadtest.verdict_line(plain, assert_targets=False).startswith(
        "Load test PASSED (over 99 % succeeded; 1 of 4 --target figures missed, not asserted: "
        "--assert-targets fails on them): 110 requests"
    )
    assert loadtest.verdict_line(asserted, assert_targets=True).startswith("Load test FAILED: 110 requests")
    assert loadtest.verdict_line(failed, assert_targets=False).startswith("Load test FAILED: 110 requests")


def test_verdict_is_a_plain_pass_when_every_target_is_met():
    totals = {"p95_ms": 480, "average_ms": 150.0, "failures": 0, "requests_per_second": 310.0}
    report = {"exit_code": 0, "totals": {**totals, "requests": 1000, "success_rate": 1.0, "failure_rate": 0.0}}
    report["totals"]["band"] = loadtest.band(150.0)
    report["targets"] = loadtest.evaluate_targets(report["totals"])

    assert loadtest.verdict_line(report, assert_targets=False) == (
        "Load test PASSED: 1000 requests, 310.0 req/s after ramp-up, average 150 ms (good), p95 480 ms, 0.00 % failed"
    )


def test_report_targets_pass():
    totals = {"p95_ms": 480, "average_ms": 150.0, "failures": 0, "requests_per_second": 310.0}
    report = {"totals": {**totals, "requests": 1000, "success_rate": 1.0}}
    report["targets"] = loadtest.evaluate_targets(report["totals"])

    assert all(target["met"] for target in report["targets"])
    assert loadtest.exit_code(report, assert_targets=True) == 0


def test_report_targets_fail_on_each_limit():
    totals = {"p95_ms": 500, "average_ms": 200.0, "failures": 1, "requests_per_second": 299.9}

    assert [target["met"] for target in loadtest.evaluate_targets(totals)] == [False, False, False, False]


def test_read_failures_lists_the_most_frequent_first(tmp_path):
    path = tmp_path / "run_failures.csv"
    path.write_text(
        "Method,Name,Error,Occurrences\n"
        "GET,student list,status 404,3\n"
        "POST,update member,CatchResponseError('status 403 CSRF refused'),7\n"
    )

    failures = loadtest.read_failures(path)

    assert failures == [
        {"method": "POST", "name": "update member", "error": "status 403 CSRF refused", "occurrences": 7},
        {"method": "GET", "name": "student list", "error": "status 404", "occurrences": 3},
    ]


def test_format_report_names_the_failures():
    report = fixture_report(failures=2)
    report["failures"] = [{"method": "GET", "name": "member detail", "error": "status 500", "occurrences": 2}]

    lines = loadtest.format_report(report)

    assert "       2 × GET member detail: status 500" in lines


def test_report_without_requests_exits_1():
    config = resolve_config(quick=True)

    report = loadtest.compute_report(config, result([], []))

    assert report["exit_code"] == 1


def test_format_report_lists_operations_totals_and_locust_cpu():
    lines = loadtest.format_report(fixture_report())

    text = "\n".join(lines)
    assert "GET member detail" in text
    assert "POST update member" in text
    assert "Form logins (not in the totals)" in text
    assert "Throughput: 3.0 requests/s over 20 s after ramp-up (10 s)" in text
    assert "Locust CPU: 3.0 s over 30 s = 10 % of one core (5 % of 2 cores)" in text
    assert "≥ 300 requests/s after ramp-up: MISSED (3.0)" in text


def test_format_report_shows_portal_database_and_machine_cpu_per_request():
    report = fixture_report()
    share = {"wall_seconds": 30.0, "cores": 2}
    report["server_cpu"] = {**share, "cpu_seconds": 26.0, "share_of_one_core": 0.87, "share_of_machine": 0.43}
    report["database_cpu"] = {**share, "cpu_seconds": 13.0, "share_of_one_core": 0.43, "share_of_machine": 0.22}
    report["machine_cpu"] = {**share, "cpu_seconds": 45.5, "share_of_one_core": 1.52, "share_of_machine": 0.76}

    text = "\n".join(loadtest.format_report(report))

    assert "Portal CPU (gunicorn): 26.0 s = 43 % of 2 cores" in text
    assert "Database CPU (embedded PostgreSQL): 13.0 s = 22 % of 2 cores" in text
    assert "Machine CPU (every process): 45.5 s = 76 % of 2 cores" in text
    # 110 operations and 20 form logins: 130 requests.
    assert (
        "CPU per request (whole run, form logins included): portal 200.0 ms, database 100.0 ms, machine 350.0 ms, "
        "Locust 23.1 ms" in text
    )


def test_tree_cpu_from_now_leaves_out_what_the_processes_used_before():
    before = loadtest.TreeCPU(os.getpid())
    since = loadtest.TreeCPU(os.getpid(), from_now=True)
    used_before = sum(os.times()[:2])  # this process's user + system seconds so far
    since.sample()
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:  # burn 0.2 s of CPU
        pass
    before.sample()
    since.sample()

    assert since.seconds >= 0.15
    assert before.seconds - since.seconds == pytest.approx(used_before, abs=0.05)  # not counted


# --- Locust on several hosts: --prepare-only -------------------------------------------------------------


@pytest.fixture
def nothing_starts(monkeypatch):
    """Fail the test if the command starts any process (a portal, Locust)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"started a process: {args}")

    monkeypatch.setattr(loadtest.subprocess, "Popen", refuse)
    monkeypatch.setattr(loadtest, "start_portal", refuse)
    monkeypatch.setattr(loadtest, "run_locust", refuse)


def prepare(path, *flags) -> str:
    out = io.StringIO()
    call_command(
        "loadtest", "--prepare-only", "--pool-file", str(path), "--host", "http://127.0.0.1:9", *flags,
        stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    return out.getvalue()


def test_prepare_only_writes_a_usable_pool_file_prints_the_commands_and_starts_nothing(
    tmp_path, client, nothing_starts
):
    members = MemberFactory.create_batch(4)
    OrganizationFactory()
    path = tmp_path / "run" / "pool.json"

    out = prepare(path, "--users", "6", "--processes", "3", "--master-host", "locust-master", "--password", "pw-1")

    assert path.stat().st_mode & 0o777 == 0o600
    pool = json.loads(path.read_text())
    assert (pool["users"], pool["workers"], pool["password"]) == (6, 3, "pw-1")
    assert sorted(row[0] for row in pool["members"]) == sorted(member.pk for member in members)
    assert [name for name, _key in pool["accounts"]] == [f"loadtest-000{n}" for n in range(1, 7)]
    client.cookies[settings.SESSION_COOKIE_NAME] = pool["accounts"][0][1]
    assert client.get("/members/").wsgi_request.user.username == "loadtest-0001"  # a ready session
    assert (
        f"  IP2A_LOADTEST_POOL={path} locust -f locustfile.py --master --expect-workers 3 --headless "
        "--host http://127.0.0.1:9 --users 6 --spawn-rate 5 --run-time 300s --stop-timeout 30 --csv loadtest "
        "ReadHeavyUser WriteHeavyUser MixedUser FileOperationsUser\n"
    ) in out
    assert f"  IP2A_LOADTEST_POOL={path} locust -f locustfile.py --worker --master-host locust-master\n" in out
    assert f"  python manage.py loadtest --end-sessions --pool-file {path}\n" in out
    run_row = CommandRun.objects.get(command="loadtest")
    assert (run_row.exit_code, run_row.summary["pool_file"], run_row.summary["accounts"]) == (0, str(path), 6)
    assert "pw-1" not in json.dumps(run_row.summary)
    assert run_row.arguments["password"] == "(hidden)"  # the run log is kept for good
    assert "pw-1" not in json.dumps(run_row.arguments)


def test_prepare_only_keeps_the_preset_and_pattern(tmp_path, nothing_starts):
    MemberFactory()
    OrganizationFactory()
    path = tmp_path / "pool.json"

    out = prepare(path, "--target", "--pattern", "read_heavy", "--prepare-users", "2", "--csv", "/tmp/run 1/x")

    pool = json.loads(path.read_text())
    assert (pool["users"], pool["think_time"], len(pool["accounts"])) == (4000, [5, 15], 2)
    assert "--users 4000 --spawn-rate 20 --run-time 900s --stop-timeout 30 --csv '/tmp/run 1/x' ReadHeavyUser\n" in out


def test_end_sessions_retires_a_prepared_run(tmp_path, client, nothing_starts):
    MemberFactory()
    OrganizationFactory()
    path = tmp_path / "pool.json"
    prepare(path, "--users", "2", "--password", "pw-2")
    accounts = json.loads(path.read_text())["accounts"]

    call_command("loadtest", "--end-sessions", "--pool-file", str(path), stdout=io.StringIO())

    assert not path.exists()
    client.cookies[settings.SESSION_COOKIE_NAME] = accounts[0][1]
    assert client.get("/members/").status_code == 302
    assert not User.objects.get(username="loadtest-0002").has_usable_password()


@pytest.mark.django_db(transaction=True)
def test_ip2adb_load_passes_prepare_only_through(tmp_path, client):
    MemberFactory()
    OrganizationFactory()
    db = connection.settings_dict
    url = f"postgresql://{db['USER']}@/{db['NAME']}?host={db['HOST']}&port={db['PORT']}"
    path = tmp_path / "pool.json"

    result = subprocess.run(
        [str(settings.BASE_DIR / "ip2adb"), "load", "--prepare-only", "--pool-file", str(path),
         "--host", "http://127.0.0.1:9", "--users", "2"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "DATABASE_URL": url, "IP2A_ENV": "test"},
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "--master --expect-workers 1 --headless --host http://127.0.0.1:9 --users 2" in result.stdout
    client.cookies[settings.SESSION_COOKIE_NAME] = json.loads(path.read_text())["accounts"][0][1]
    assert client.get("/members/").status_code == 200


# --- End to end --------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_loadtest_quick_against_a_live_portal(live_server, tmp_path):
    for member in MemberFactory.create_batch(6):
        MemberEmploymentFactory(member=member, end_date=None)
        AttachmentFactory(target_obj=member)
    OrganizationContactFactory(organization=EmployerFactory(), is_primary=True)
    StudentFactory.create_batch(3)
    export = tmp_path / "report.json"

    run("--quick", "--run-time", "10s", "--users", "5", "--host", live_server.url, "--export", str(export))

    report = json.loads(export.read_text())
    names = {row["name"] for row in report["operations"]}
    # Operations are picked at random: in 10 s one of the two commonest reads is all but certain, both are not.
    assert names & {"member list", "member detail"}
    assert report["totals"]["failures"] == 0
    assert report["logins"]["requests"] == 10  # every user logs in by form in --quick: GET and POST
    assert report["exit_code"] == 0
    run_row = CommandRun.objects.get(command="loadtest")
    assert (run_row.exit_code, run_row.summary["totals"]["requests"]) == (0, report["totals"]["requests"])


NETSTAT_TEXT = (
    "TcpExt: SyncookiesSent ListenOverflows ListenDrops\n"
    "TcpExt: 0 328703 328703\n"
    "IpExt: InNoRoutes ListenOverflows\n"
    "IpExt: 0 5\n"
)


def test_listen_overflows_reads_the_kernels_tcpext_counter(tmp_path):
    netstat = tmp_path / "netstat"
    netstat.write_text(NETSTAT_TEXT)
    assert loadtest.listen_overflows(netstat) == 328703
    assert loadtest.listen_overflows(tmp_path / "missing") is None  # not Linux
    netstat.write_text("IpExt: InNoRoutes\nIpExt: 0\n")
    assert loadtest.listen_overflows(netstat) is None


@pytest.mark.skipif(not loadtest.NETSTAT.exists(), reason="/proc/net/netstat is Linux-only")
def test_listen_overflows_reads_this_machine():
    assert isinstance(loadtest.listen_overflows(), int)


def test_format_report_says_how_many_connections_the_kernel_dropped():
    report = fixture_report()
    assert "Listen-queue overflows" not in "\n".join(loadtest.format_report(report))  # not measured
    report["listen_overflows"] = 0
    assert "Listen-queue overflows (the kernel's counter, whole machine): 0\n" in (
        "\n".join(loadtest.format_report(report)) + "\n"
    )
    report["listen_overflows"] = 1200
    text = "\n".join(loadtest.format_report(report))
    assert "Listen-queue overflows (the kernel's counter, whole machine): 1200  — connections dropped" in text
    assert "GUNICORN_BACKLOG" in text
