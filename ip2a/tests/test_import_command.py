"""`manage.py import_rows`: the portal's import machinery from the shell, recorded as a CommandRun."""

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.history import os_username
from audit.models import AuditSource, CommandOutcome, CommandRun
from members.factories import MemberFactory
from members.models import Member

pytestmark = pytest.mark.django_db

HEADER = "member_number,first_name,last_name,phone,status,classification\n"


@pytest.fixture
def members_csv(tmp_path):
    def write(rows: str, name: str = "members.csv", encoding: str = "utf-8"):
        path = tmp_path / name
        path.write_bytes((HEADER + rows).encode(encoding))
        return path

    return write


def import_rows(*args) -> list[str]:
    out = io.StringIO()
    call_command("import_rows", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().splitlines()


def test_import_rows_imports_and_prints_a_one_line_summary(members_csv):
    MemberFactory(member_number="7100002", first_name="Ben", last_name="Cho", phone="", classification="foreman")
    path = members_csv("7100001,Ana,Ruiz,,active,journeyman\n7100002,Ben,Cho,206 555 0101,active,foreman\n")

    lines = import_rows("members", str(path))

    run = CommandRun.objects.get(command="import_rows")
    assert re.fullmatch(
        rf"members\.csv: 2 rows, 1 new, 1 updated, 0 unchanged, 0 with errors; imported \(\d+\.\d s, run {run.pk}\)",
        lines[-1],
    )
    assert sorted(Member.objects.values_list("member_number", "phone")) == [
        ("7100001", ""),
        ("7100002", "206 555 0101"),
    ]


def test_import_rows_is_recorded_as_an_import_run_in_history(members_csv):
    path = members_csv("7100001,Ana,Ruiz,,active,journeyman\n")

    import_rows("members", str(path))

    run = CommandRun.objects.get(command="import_rows")
    assert (run.source, run.outcome, run.exit_code) == (AuditSource.IMPORT, CommandOutcome.SUCCEEDED, 0)
    assert {key: run.summary[key] for key in ("kind", "file", "new", "imported")} == {
        "kind": "members",
        "file": "members.csv",
        "new": 1,
        "imported": True,
    }
    event = Member.objects.get().events.get()
    assert event.pgh_context == {
        "source": "import",
        "reason": "members.csv",
        "command": "import_rows",
        "run_id": run.pk,
        "user_id": None,
        "username": f"os:{os_username()}",
    }


def test_import_rows_dry_run_writes_nothing(members_csv):
    path = members_csv("7100001,Ana,Ruiz,,active,journeyman\n")

    lines = import_rows("members", str(path), "--dry-run")

    assert lines[-1].startswith("members.csv: 1 row, 1 new, 0 updated, 0 unchanged, 0 with errors; dry run, nothing")
    assert not Member.all_objects.exists()


def test_import_rows_stops_at_a_row_error_and_imports_nothing(members_csv):
    path = members_csv("7100001,Ana,Ruiz,,active,journeyman\nAB12,Dee,Eng,,active,journeyman\n")
    out = io.StringIO()

    with pytest.raises(CommandError, match=r"2 rows, stopped by the error on row 3; nothing imported") as failed:
        call_command("import_rows", "members", str(path), stdout=out, stderr=io.StringIO())

    assert failed.value.returncode == 1
    assert "row 3: row: A member number is 5 to 10 digits, with at most one letter before or after." in (
        out.getvalue().splitlines()
    )
    assert not Member.all_objects.exists()
    assert CommandRun.objects.get(command="import_rows").outcome == CommandOutcome.FAILED


def test_import_rows_dry_run_lists_the_errors_of_every_row(members_csv):
    path = members_csv("AB12,Ana,Ruiz,,active,journeyman\n7100002,Dee,Eng,,active,wizard\n")
    out = io.StringIO()

    with pytest.raises(CommandError, match=r"0 new, 0 updated, 0 unchanged, 2 with errors; nothing imported"):
        call_command("import_rows", "members", str(path), "--dry-run", stdout=out, stderr=io.StringIO())

    assert out.getvalue().splitlines()[1:] == [
        "row 2: row: A member number is 5 to 10 digits, with at most one letter before or after.",
        "row 3: classification: Value 'wizard' is not a valid choice.",
    ]


def test_import_rows_refuses_a_file_that_is_not_utf8(members_csv):
    path = members_csv("7100001,José,Ruiz,,active,journeyman\n", encoding="latin-1")

    with pytest.raises(CommandError, match="The file is not UTF-8 text: line 2 holds the byte 0xE9") as refused:
        import_rows("members", str(path))

    assert refused.value.returncode == 2
    assert not Member.all_objects.exists()


def test_import_rows_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read .*nowhere.csv: No such file or directory.") as refused:
        import_rows("members", str(tmp_path / "nowhere.csv"))

    assert refused.value.returncode == 2
