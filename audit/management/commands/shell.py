from django.core.management.commands import shell

from audit.history import history_context
from audit.models import AuditSource


class Command(shell.Command):
    help = shell.Command.help + " Changes made in it are recorded with source=shell and the OS user."

    def handle(self, **options):
        with history_context(source=AuditSource.SHELL, command="shell"):
            return super().handle(**options)
