"""The shared shape of operator commands (DOMAIN.md §9): a header line, a production policy, a CommandRun
record with its run id on the history context, and a one-line summary with the time taken."""

import contextlib
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import ProgrammingError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from audit.history import command_run
from audit.models import AuditSource
from ip2a.dbroles import owner_connection

REFUSE, FORCE, ALLOW = "refuse", "force", "allow"


def describe_database() -> str:
    """Which database this process uses, for the header line (no password)."""
    where = "embedded PostgreSQL, var/pgdata" if settings.EMBEDDED_DATABASE else "DATABASE_URL"
    return f"{connection.settings_dict['NAME']} ({where})"


class OperatorCommand(BaseCommand):
    """Base class: subclasses set ``production`` (refuse / force / allow) and implement ``run(**options)``,
    which returns (exit code, summary line, summary dict). Exit codes leave through CommandError. A subclass
    that empties or replaces tables sets ``needs_owner``: the whole run, its CommandRun record included, then
    logs in as the tables' owner (DATABASE_OWNER_URL, ip2a/dbroles.py)."""

    production = REFUSE
    source = AuditSource.COMMAND
    needs_owner = False

    def add_arguments(self, parser):
        if self.production == FORCE:
            parser.add_argument("--force", action="store_true", help="Allow the run when IP2A_ENV=production.")

    def handle(self, *args, **options):
        with owner_connection() if self.needs_owner else contextlib.nullcontext():
            self.handle_run(**options)

    def handle_run(self, **options):
        name = self.__module__.rsplit(".", 1)[-1]
        # Machine-readable output (--json) owns stdout; the human lines go to stderr then.
        self.info = self.stderr if options.get("json") else self.stdout
        now = timezone.localtime().strftime("%Y-%m-%d %H:%M:%S %Z")
        self.info.write(f"{name}: environment {settings.IP2A_ENV} · database {describe_database()} · {now}")
        if settings.PRODUCTION:
            if self.production == REFUSE:
                raise CommandError(f"`{name}` is refused when IP2A_ENV=production.", returncode=2)
            if self.production == FORCE and not options.get("force"):
                raise CommandError(f"`{name}` needs --force when IP2A_ENV=production.", returncode=2)
        arguments = {
            key: "(hidden)" if key in SECRET_OPTIONS and value else _jsonable(value)
            for key, value in options.items()
            if key not in IGNORED_OPTIONS
        }
        started = time.monotonic()
        try:
            with command_run(name, arguments=arguments, source=self.source) as run:
                self.run_id = run.pk
                code, line, summary = self.run(**options)
                run.exit_code = code
                run.summary = {**summary, "seconds": round(time.monotonic() - started, 3)}
        except KeyboardInterrupt:
            raise CommandError("Interrupted; the step in progress was rolled back.", returncode=130) from None
        except ProgrammingError as exc:  # a missing table or column: most often a database not migrated yet
            if unapplied := unapplied_migrations():
                raise CommandError(
                    f"The database is not migrated: {len(unapplied)} migrations not applied (the first: "
                    f"{unapplied[0]}). Run `python manage.py migrate` first.",
                    returncode=2,
                ) from exc
            raise
        line = f"{line} ({time.monotonic() - started:.1f} s, run {run.pk})"
        if code:
            raise CommandError(line, returncode=code)
        self.info.write(line)

    def run(self, **options) -> tuple[int, str, dict]:
        raise NotImplementedError


def unapplied_migrations() -> list[str]:
    """The migrations this code has that the database has not applied, in the order they would run."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


IGNORED_OPTIONS = {"verbosity", "settings", "pythonpath", "traceback", "no_color", "force_color", "skip_checks"}
# Recorded only as given or not: the run log is readable by admins and kept for good.
SECRET_OPTIONS = {"password"}


def _jsonable(value):
    return value if isinstance(value, str | int | float | bool | type(None) | list | dict) else str(value)
