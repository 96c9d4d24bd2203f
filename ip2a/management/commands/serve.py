import os
import secrets
import signal
import subprocess
import sys

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from ip2a import embedded
from ip2a.roles import sync_roles

DEMO_ADMIN = "admin"


class Command(BaseCommand):
    help = (
        "Run the portal for development (what `make run` does): migrate, create the demo admin the first time, "
        "load quick demo data into an empty database, then serve with gunicorn until Ctrl-C or SIGTERM."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("PORT") or 8000),
            help="Port on 127.0.0.1 (default $PORT or 8000).",
        )
        parser.add_argument("--no-seed", action="store_true", help="Do not load demo data into an empty database.")

    def handle(self, *args, port, no_seed, **options):
        if settings.DEPLOYED:
            raise CommandError("`serve` is the development launcher; in staging and production run gunicorn directly.")
        database = connection.settings_dict["NAME"]
        where = "embedded PostgreSQL under var/pgdata" if settings.EMBEDDED_DATABASE else "DATABASE_URL"
        self.stdout.write(f"IP2A {settings.IP2A_VERSION} · env {settings.IP2A_ENV} · database {database} ({where})")
        call_command("migrate", interactive=False, verbosity=1)
        self.ensure_demo_admin()
        if not no_seed and "seed" in get_commands() and self.database_is_empty():
            call_command("seed", quick=True)

        env = os.environ.copy()
        env["PORT"] = str(port)
        if settings.EMBEDDED_DATABASE:
            # This process holds the embedded server open; the workers connect to it directly.
            env["DATABASE_URL"] = embedded.uri()
        gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(settings.BASE_DIR / "gunicorn.conf.py"), "ip2a.wsgi"]
        self.stdout.write(self.style.SUCCESS(f"Serving the portal on http://127.0.0.1:{port}/ — Ctrl-C stops it."))
        self.stdout.flush()
        server = subprocess.Popen(gunicorn, env=env, cwd=settings.BASE_DIR)

        def stop(signum, frame):
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)  # graceful: finish requests in flight

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        returncode = server.wait()
        stopped = "the embedded PostgreSQL stops with this process" if settings.EMBEDDED_DATABASE else "done"
        self.stdout.write(f"gunicorn stopped (exit {returncode}); {stopped}.")
        if returncode not in (0, -signal.SIGTERM, -signal.SIGINT):
            raise CommandError(f"gunicorn exited with status {returncode}.")

    def ensure_demo_admin(self):
        """Create the `admin` superuser with a generated password the first time; print the password once."""
        if User.objects.filter(username=DEMO_ADMIN).exists():
            self.stdout.write(f"Log in as '{DEMO_ADMIN}' (password as printed when it was created).")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(DEMO_ADMIN, email="", password=password)
        sync_roles()  # puts the superuser in the admin role
        banner = f"Demo administrator created — username: {DEMO_ADMIN}  password: {password}"
        self.stdout.write(self.style.WARNING("=" * len(banner)))
        self.stdout.write(self.style.WARNING(banner))
        self.stdout.write(self.style.WARNING("(shown only this once; change it under your name → Change password)"))
        self.stdout.write(self.style.WARNING("=" * len(banner)))

    def database_is_empty(self):
        """Tell whether the domain holds no rows yet (no members and no organizations)."""
        from django.apps import apps

        for label in ("members.Member", "organizations.Organization"):
            try:
                model = apps.get_model(label)
            except LookupError:
                continue
            if model.objects.exists():
                return False
        return True
