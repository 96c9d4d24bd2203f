"""command_run (CommandRun, DOMAIN.md §9) and the history context of operator commands and `manage.py shell`."""

import socket

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.history import command_run, os_username
from audit.models import AuditSource, CommandOutcome, CommandRun
from members.factories import MemberFactory
from members.models import Member

pytestmark = pytest.mark.django_db


def test_command_run_records_who_ran_what_where():
    with command_run("integrity", arguments={"checks": "EMP-001"}) as run:
        running = CommandRun.objects.get(pk=run.pk)

    assert (running.outcome, running.finished_at, running.exit_code) == (CommandOutcome.RUNNING, None, None)
    assert (running.command, running.arguments, running.source) == ("integrity", {"checks": "EMP-001"}, "command")
    assert (running.os_user, running.hostname) == (os_username(), socket.gethostname())
    assert running.started_at is not None


def test_command_run_success_is_recorded_with_exit_code_zero():
    with command_run("integrity") as run:
        run.summary = {"findings": 0}

    run = CommandRun.objects.get(pk=run.pk)
    assert (run.outcome, run.exit_code, run.summary) == (CommandOutcome.SUCCEEDED, 0, {"findings": 0})
    assert run.finished_at >= run.started_at


def test_command_run_non_zero_exit_code_is_a_failure():
    with command_run("integrity") as run:
        run.exit_code = 1

    run = CommandRun.objects.get(pk=run.pk)
    assert (run.outcome, run.exit_code) == (CommandOutcome.FAILED, 1)


def test_command_run_exception_is_recorded_as_failed_and_propagates():
    with pytest.raises(RuntimeError, match="disk full"), command_run("seed", source=AuditSource.SEED) as run:
        raise RuntimeError("disk full")

    run = CommandRun.objects.get(pk=run.pk)
    assert (run.outcome, run.exit_code) == (CommandOutcome.FAILED, 1)
    assert run.finished_at is not None


@pytest.mark.parametrize(
    ("exc", "exit_code", "outcome"),
    [
        (CommandError("refused", returncode=2), 2, CommandOutcome.FAILED),
        (SystemExit(3), 3, CommandOutcome.FAILED),
        (SystemExit(0), 0, CommandOutcome.SUCCEEDED),
        (KeyboardInterrupt(), 130, CommandOutcome.FAILED),
    ],
)
def test_command_run_records_the_exit_code_the_process_ends_with(exc, exit_code, outcome):
    with pytest.raises(type(exc)), command_run("loadtest") as run:
        raise exc

    run = CommandRun.objects.get(pk=run.pk)
    assert (run.exit_code, run.outcome) == (exit_code, outcome)


def test_command_run_puts_source_command_and_run_id_on_the_history():
    with command_run("repair", source=AuditSource.REPAIR, reason="integrity repair EMP-001") as run:
        member = MemberFactory()

    assert member.events.get().pgh_context == {
        "source": "repair",
        "user_id": None,
        "username": f"os:{os_username()}",
        "reason": "integrity repair EMP-001",
        "command": "repair",
        "run_id": run.pk,
    }


def test_command_run_history_of_a_failed_run_keeps_its_run_id():
    def seed_halfway():
        with command_run("seed", source=AuditSource.SEED):
            MemberFactory()
            raise RuntimeError("stopped halfway")

    with pytest.raises(RuntimeError, match="stopped halfway"):
        seed_halfway()

    run = CommandRun.objects.get()
    assert Member.pgh_event_model.objects.get().pgh_context["run_id"] == run.pk


def test_shell_command_records_source_shell():
    call_command(
        "shell", command="from members.factories import MemberFactory; MemberFactory(member_number='7123456')"
    )

    event = Member.all_objects.get(member_number="7123456").events.get()
    assert event.pgh_context == {
        "source": "shell",
        "user_id": None,
        "username": f"os:{os_username()}",
        "reason": "",
        "command": "shell",
    }


def test_createsuperuser_is_recorded_with_the_command_context():
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from audit.models import UserEvent

    call_command("createsuperuser", "--noinput", "--username", "root", "--email", "root@example.org", verbosity=0)

    event = UserEvent.objects.get(pgh_obj_id=User.objects.get(username="root").pk, pgh_label="insert")
    assert (event.pgh_context["source"], event.pgh_context["command"]) == ("command", "createsuperuser")
