from django.contrib.auth.management.commands import createsuperuser

from audit.history import history_context
from audit.models import AuditSource


class Command(createsuperuser.Command):
    help = createsuperuser.Command.help + " Recorded in the change history with source=command."

    def handle(self, *args, **options):
        with history_context(source=AuditSource.COMMAND, command="createsuperuser"):
            return super().handle(*args, **options)
