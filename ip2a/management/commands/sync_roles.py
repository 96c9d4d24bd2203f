from ip2a.commands import ALLOW, OperatorCommand
from ip2a.roles import ROLE_NAMES, role_permissions, sync_roles


class Command(OperatorCommand):
    help = "Create the six role groups and set their permissions from ip2a/roles.py (also runs after migrate)."
    production = ALLOW

    def run(self, **options):
        missing = sync_roles()
        counts = {}
        for role in ROLE_NAMES:
            granted, _ = role_permissions(role)
            counts[role] = len(granted)
            line = f"{role:11} {len(granted):4} permissions"
            if missing[role]:
                line += f"  (not available yet: {', '.join(missing[role])})"
            self.stdout.write(line)
        summary = {"permissions": counts, "missing": {role: names for role, names in missing.items() if names}}
        return 0, f"{len(ROLE_NAMES)} roles in sync; is_staff follows the admin role", summary
