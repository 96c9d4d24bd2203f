from django.apps import AppConfig
from django.db.models.signals import post_migrate


class Ip2aConfig(AppConfig):
    name = "ip2a"
    verbose_name = "IP2A"

    def ready(self):
        from ip2a import auth  # noqa: F401 (connects the signals that retire cached grants)

        post_migrate.connect(sync_roles_after_migrate, sender=self)


def sync_roles_after_migrate(sender, using="default", **kwargs):
    """Re-sync the role groups after every migrate (ip2a is the last app, so all permissions exist)."""
    from ip2a.roles import sync_roles

    if using == "default":
        sync_roles()
