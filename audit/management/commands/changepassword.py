from django.contrib.auth.management.commands import changepassword

from audit.history import history_context
from audit.models import AuditSource


class Command(changepassword.Command):
    help = changepassword.Command.help + " Recorded in the change history with source=command."

    def handle(self, *args, **options):
        with history_context(source=AuditSource.COMMAND, command="changepassword"):
            return super().handle(*args, **options)
