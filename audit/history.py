"""History context: who changed data, from where and why.

The database triggers record every write; this module only says who and why, through one context manager
used by commands, imports, repairs and the shell (the middleware does the same for web requests).
"""

import contextlib
import getpass
import socket
import threading
import uuid

import pghistory
from django.core.management.base import CommandError
from django.utils import timezone

from audit.models import AuditSource, CommandOutcome, CommandRun


def os_username() -> str:
    """The operating-system account running this process, as recorded for commands and the shell."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


_open_blocks = threading.local()  # how many history_context blocks this thread is inside


@contextlib.contextmanager
def history_context(*, source: str, reason: str = "", user=None, **extra):
    """Attach who/where/why to every history event written inside the block.

    ``source`` is an AuditSource value; ``user`` a User or None (then the OS account is the username, except
    for anonymous web requests, which have none); ``extra`` adds keys such as url, request_id, ip, command or
    run_id. Nested blocks add to the outer context (pghistory groups everything under the outermost one) and
    keep its user and reason unless they give their own, so an import started from a page keeps the page's user.
    """
    if source not in AuditSource.values:
        raise ValueError(f"Unknown history source {source!r}.")
    nested = getattr(_open_blocks, "depth", 0) > 0
    metadata = {"source": source, **{key: value for key, value in extra.items() if value not in (None, "")}}
    if reason or not nested:
        metadata["reason"] = reason
    if user is not None:
        metadata |= {"user_id": user.pk, "username": user.get_username()}
    elif not nested:
        # A web request without a login has no user; the server's OS account did not make its changes.
        anonymous = source in (AuditSource.WEB, AuditSource.ADMIN)
        metadata |= {"user_id": None, "username": "" if anonymous else f"os:{os_username()}"}
    _open_blocks.depth = getattr(_open_blocks, "depth", 0) + 1
    try:
        with pghistory.context(**metadata) as context:
            yield context
    finally:
        _open_blocks.depth -= 1


@contextlib.contextmanager
def history_reason(reason: str):
    """Record ``reason`` on the history of writes inside the block, and give the outer reason back after it.

    (A nested pghistory.context would overwrite the outer reason for the rest of the outer block: a repair
    that soft-deletes a row must not lose "integrity repair …" for its next writes.)
    """
    with pghistory.context() as current:
        had_reason = "reason" in current.metadata
        previous = current.metadata.get("reason")
        current.metadata["reason"] = reason
        try:
            yield
        finally:
            if had_reason:
                current.metadata["reason"] = previous
            else:
                current.metadata.pop("reason", None)


def exit_code_of(exc: BaseException) -> int:
    """The process exit code an exception escaping a management command ends in."""
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if isinstance(exc, CommandError):
        return exc.returncode
    return 130 if isinstance(exc, KeyboardInterrupt) else 1


@contextlib.contextmanager
def command_run(command: str, *, arguments: dict | None = None, source: str = AuditSource.COMMAND, reason: str = ""):
    """Record one operator-command run in CommandRun and put its id (run_id) on the history context.

    Yields the CommandRun; the caller may fill ``summary`` and ``exit_code``. The outcome is set on exit:
    failed when the exit code is non-zero, from the caller or from an exception escaping the block.
    """
    run = CommandRun.objects.create(
        command=command,
        arguments=arguments or {},
        source=source,
        os_user=os_username(),
        hostname=socket.gethostname(),
    )
    try:
        with history_context(source=source, reason=reason, command=command, run_id=run.pk):
            yield run
    except BaseException as exc:
        if not run.exit_code:
            run.exit_code = exit_code_of(exc)
        raise
    else:
        run.exit_code = run.exit_code or 0
    finally:
        run.outcome = CommandOutcome.SUCCEEDED if run.exit_code == 0 else CommandOutcome.FAILED
        run.finished_at = timezone.now()
        fields = {name: getattr(run, name) for name in ("finished_at", "outcome", "exit_code", "summary")}
        if not CommandRun.objects.filter(pk=run.pk).update(**fields):
            # `reset --with-history` emptied the table under us: record the run anew.
            run.pk = None
            run.save(force_insert=True)


def new_request_id() -> str:
    return str(uuid.uuid4())
