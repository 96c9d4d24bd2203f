import sys

from django.core.cache import cache
from django.db import transaction

from audit.history import history_reason
from ip2a.commands import REFUSE, OperatorCommand
from ip2a.reset import empty_attachments_storage, truncate

CONFIRMATION = "DELETE ALL DATA"


class Command(OperatorCommand):
    help = (
        "Empty every domain table (organizations and contacts included) and the attachment storage; users and "
        "roles stay. History and the access log stay unless --with-history. Refused in production."
    )
    production = REFUSE
    needs_owner = True  # TRUNCATE is the owner's

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--yes", action="store_true", help="Do not ask for the typed confirmation.")
        parser.add_argument(
            "--with-history",
            action="store_true",
            help="Also empty the history, the access log and the command runs, and restart every id.",
        )

    def run(self, *, yes, with_history, **options):
        if not yes:
            if not sys.stdin.isatty():
                return 2, "Refusing to reset without --yes (no terminal to confirm on)", {}
            answer = input(f"This deletes every member, organization, student and file. Type {CONFIRMATION}: ")
            if answer.strip() != CONFIRMATION:
                return 2, "Reset cancelled: the confirmation did not match", {}
        with transaction.atomic(), history_reason("reset"):
            emptied, missing = truncate(with_history=with_history)
        for table in missing:
            self.stderr.write(self.style.WARNING(f"Table {table} does not exist; skipped."))
        files = empty_attachments_storage()
        cache.clear()  # nothing cached may outlive the data it was computed from
        kept = "history emptied, ids restarted" if with_history else "history and access log kept"
        summary = {"tables": emptied, "missing": missing, "files": files, "with_history": with_history}
        return 0, f"Reset {len(emptied)} tables and removed {files:,} files ({kept})", summary
