from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands import migrate
from django.db import DEFAULT_DB_ALIAS

from ip2a.dbroles import RoleError, app_role, grant_app_privileges, owner_connection


class Command(migrate.Command):
    help = (
        "Django's migrate. With DATABASE_OWNER_URL set it runs as the tables' owner, then grants the portal's role "
        "(DATABASE_URL's user) what it needs and no more, and checks what that role can do in effect "
        "(ip2a/dbroles.py)."
    )

    def handle(self, *args, **options):
        if options["database"] != DEFAULT_DB_ALIAS:
            return super().handle(*args, **options)
        with owner_connection():
            super().handle(*args, **options)
            if settings.DATABASE_OWNER is None or options["plan"] or options["check_unapplied"]:
                return None  # one role does everything, or nothing was changed
            try:
                # Last: every migration and post_migrate handler has run, and the migrations that install
                # triggers wrote pgtrigger's own switch function again, which this replaces.
                counts = grant_app_privileges()
            except RoleError as exc:
                raise CommandError(str(exc)) from None
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Privileges of {app_role()}: read and write {counts['read_write']} tables, read, add and update "
                f"{counts['no_delete']} (command log), read and append to {counts['append_only']} (history, access "
                f"log), read {counts['read_only']}."
            )
        return None
