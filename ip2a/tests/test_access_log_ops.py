"""scripts/access_log_ops.py: the portal's time per operation of the load mix, for one run or several."""

import importlib.util

import pytest

from .test_deploy_files import ROOT

spec = importlib.util.spec_from_file_location("access_log_ops", ROOT / "scripts" / "access_log_ops.py")
access_log_ops = importlib.util.module_from_spec(spec)
spec.loader.exec_module(access_log_ops)


def write_log(path, lines):
    """An access log in the format the docstring asks gunicorn for (the time in microseconds last)."""
    path.write_text("".join(f"{method} {target} 200 {micros}\n" for method, target, micros in lines))
    return str(path)


def test_one_log_gives_the_table_of_its_operations(tmp_path, capsys):
    log = write_log(tmp_path / "access.log", [("GET", "/members/5/?", 30_000), ("GET", "/members/?q=ab", 10_000)])

    access_log_ops.main([log])

    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["member", "detail", "GET", "1", "50.0%", "30.0", "30.0", "75.0%"]
    assert lines[-1] == "2 requests, mean 20.0 ms in the portal"


def test_several_logs_give_a_column_per_run_with_each_operation_against_its_runs_mean(tmp_path, capsys):
    before = write_log(
        tmp_path / "access-A1.log",
        [
            ("GET", "/members/5/?", 40_000),
            ("POST", "/members/5/employments/new/?", 20_000),
            ("POST", "/accounts/login/?", 1_000_000),
        ],  # fmt: skip
    )
    after = write_log(tmp_path / "access-B1.log", [("GET", "/members/5/?", 30_000), ("GET", "/members/?q=ab", 10_000)])

    access_log_ops.main([before, after])

    rows = [line.rsplit(maxsplit=2) for line in capsys.readouterr().out.splitlines()]
    assert rows == [
        ["mean ms in the portal", "A1", "B1"],
        ["member detail GET", "40.0", "30.0"],
        ["add employment POST", "20.0", "-"],
        ["member list filtered/search", "-", "10.0"],
        ["all requests", "30.0", "20.0"],  # the login is not a request of the mix
        ["as a multiple of the", "run's", "mean:"],
        ["member detail GET", "1.33", "1.50"],
        ["add employment POST", "0.67", "-"],
        ["member list filtered/search", "-", "0.50"],
    ]


def test_a_comparison_shows_the_heaviest_operations_asked_for(tmp_path, capsys):
    lines = [("GET", "/members/5/?", 40_000), ("GET", "/organizations/?", 20_000), ("GET", "/members/?", 10_000)]
    logs = [write_log(tmp_path / f"access-{run}.log", lines) for run in ("A1", "B1")]

    access_log_ops.main(*access_log_ops.arguments(["--heaviest", "2", *logs]))

    names = [line.rsplit(maxsplit=2)[0] for line in capsys.readouterr().out.splitlines()[1:4]]
    assert names == ["member detail GET", "organization list GET", "all requests"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--heaviest", "access.log"], "--heaviest needs a number of operations"),
        (["--heaviest", "0", "a.log"], "--heaviest needs a number of operations"),
        (["--heaviest", "3"], "usage: scripts/access_log_ops.py [--heaviest N] [--parts N] ACCESS_LOG"),
        (["--parts", "x", "a.log"], "--parts needs a number of parts"),
        (["--parts", "2", "a.log", "b.log"], "--parts splits one access log: give exactly one"),
    ],
)
def test_a_count_without_a_number_or_without_a_log_is_refused(argv, message):
    with pytest.raises(SystemExit) as refused:
        access_log_ops.arguments(argv)

    assert str(refused.value).startswith(message)


def test_parts_compare_one_log_in_the_order_its_requests_ended(tmp_path, capsys):
    lines = [
        ("GET", "/members/5/?", 20_000),
        ("GET", "/organizations/?", 10_000),
        ("GET", "/members/6/?", 30_000),
        ("GET", "/organizations/?", 20_000),
    ]
    log = write_log(tmp_path / "access.log", lines)

    access_log_ops.main(*access_log_ops.arguments(["--parts", "2", log]))

    rows = [line.rsplit(maxsplit=2) for line in capsys.readouterr().out.splitlines()]
    assert rows[:4] == [
        ["mean ms in the portal", "1/2", "2/2"],
        ["member detail GET", "20.0", "30.0"],
        ["organization list GET", "10.0", "20.0"],
        ["all requests", "15.0", "25.0"],
    ]


def test_a_part_with_no_request_of_the_mix_shows_dashes(tmp_path, capsys):
    lines = [
        ("POST", "/accounts/login/?", 900_000),  # a run starts with form logins, which are not in the mix
        ("POST", "/accounts/login/?", 800_000),
        ("GET", "/members/5/?", 20_000),
        ("GET", "/members/6/?", 30_000),
    ]
    log = write_log(tmp_path / "access.log", lines)

    access_log_ops.main(*access_log_ops.arguments(["--parts", "2", log]))

    rows = [line.rsplit(maxsplit=2) for line in capsys.readouterr().out.splitlines()]
    assert rows == [
        ["mean ms in the portal", "1/2", "2/2"],
        ["member detail GET", "-", "25.0"],
        ["all requests", "-", "25.0"],
        ["as a multiple of the", "run's", "mean:"],
        ["member detail GET", "-", "1.00"],
    ]
