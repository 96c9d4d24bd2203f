"""History context: who changed data, from where and why.

The database triggers record every write; this module only says who and why, through one context manager
used by commands, imports, repairs and the shell (the middleware does the same for web requests).
"""

import contextlib
import getpass
import socket
import uuid

import pghistory
from django.utils import timezone

from audit.models import AuditSource, CommandOutcome, CommandRun


def os_username() -> str:
    """The operating-system account running this process, as recorded for commands and the shell."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@contextlib.contextmanager
def history_context(*, source: str, reason: str = "", user=None, **extra):
    """Attach who/where/why to every history event written inside the block.

    ``source`` is an AuditSource value; ``user`` a User or None (then the OS account is the username);
    ``extra`` adds keys such as url, request_id, ip, command or run_id. Nested blocks add to the outer
    context (pghistory groups everything under the outermost one).
    """
    if source not in AuditSource.values:
        raise ValueError(f"Unknown history source {source!r}.")
    metadata = {
        "source": source,
        "user_id": user.pk if user is not None else None,
        "username": user.get_username() if user is not None else f"os:{os_username()}",
        "reason": reason,
        **{key: value for key, value in extra.items() if value not in (None, "")},
    }
    with pghistory.context(**metadata) as context:
        yield context


@contextlib.contextmanager
def command_run(command: str, *, arguments: dict | None = None, source: str = AuditSource.COMMAND, reason: str = ""):
    """Record one operator-command run in CommandRun and put its id (run_id) on the history context.

    Yields the CommandRun; the caller may fill ``summary`` and ``exit_code``. The outcome is set on exit:
    failed when an exception escapes (or exit_code is non-zero), succeeded otherwise.
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
        run.outcome = CommandOutcome.FAILED
        if run.exit_code is None:
            run.exit_code = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 1
            if isinstance(exc, KeyboardInterrupt):
                run.exit_code = 130
        raise
    else:
        run.exit_code = run.exit_code or 0
        run.outcome = CommandOutcome.SUCCEEDED if run.exit_code == 0 else CommandOutcome.FAILED
    finally:
        run.finished_at = timezone.now()
        run.save(update_fields=["finished_at", "outcome", "exit_code", "summary"])


def new_request_id() -> str:
    return str(uuid.uuid4())
