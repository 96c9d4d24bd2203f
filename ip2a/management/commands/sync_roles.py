from django.core.management.base import BaseCommand

from ip2a.roles import ROLE_NAMES, role_permissions, sync_roles


class Command(BaseCommand):
    help = "Create the six role groups and set their permissions from ip2a/roles.py (also runs after migrate)."

    def handle(self, *args, **options):
        missing = sync_roles()
        for role in ROLE_NAMES:
            granted, _ = role_permissions(role)
            line = f"{role:11} {len(granted):4} permissions"
            if missing[role]:
                line += f"  (not available yet: {', '.join(missing[role])})"
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"{len(ROLE_NAMES)} roles in sync; is_staff follows the admin role."))
