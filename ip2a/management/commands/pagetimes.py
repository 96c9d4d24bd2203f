"""Time portal pages in-process, per role: the server time of a page without network or gunicorn.

Django's test client sends ``Host: testserver``; the command lets that host in for its own requests only, so it
needs no ALLOWED_HOSTS change in any environment it runs in (not production: it creates users). A page that
does not answer 200 fails the run (exit 1): its time would not be the page's.

manage.py pagetimes                         # the default pages for officer, staff and instructor
manage.py pagetimes --roles staff --paths / /members/ --repeat 10
"""

import statistics
import time

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.test import Client
from django.test.utils import override_settings

from ip2a.commands import REFUSE, OperatorCommand

DEFAULT_PATHS = ["/", "/audit/", "/search/?q=smi", "/members/", "/training/students/"]


class Command(OperatorCommand):
    help = "Time pages through Django's test client per role, cold (empty cache) and warm; prints one line each."
    production = REFUSE  # it creates bench-<role> users

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--roles", nargs="+", default=["officer", "staff", "instructor"], help="Roles to time.")
        parser.add_argument("--paths", nargs="+", default=DEFAULT_PATHS, help="Paths to time.")
        parser.add_argument("--repeat", type=int, default=5, help="Warm requests per page (default 5).")

    def run(self, **options):
        with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
            return self.time_pages(**options)

    def time_pages(self, *, roles, paths, repeat, **options):
        Client().get("/healthz")  # compile the URL conf and middleware before the first measured page
        results = []
        for role in roles:
            user, _ = User.objects.get_or_create(username=f"bench-{role}")
            user.groups.set([Group.objects.get(name=role)])
            client = Client()
            client.force_login(user)
            for path in paths:
                cache.clear()
                started = time.perf_counter()
                status = client.get(path).status_code
                cold = (time.perf_counter() - started) * 1000
                warm = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    client.get(path)
                    warm.append((time.perf_counter() - started) * 1000)
                median = statistics.median(warm) if warm else cold
                self.stdout.write(f"{role:10} {path:24} {status} cold {cold:6.1f} ms  warm median {median:6.1f} ms")
                results.append({"role": role, "path": path, "status": status, "cold_ms": cold, "warm_ms": median})
        failed = [f"{row['path']} as {row['role']} ({row['status']})" for row in results if row["status"] != 200]
        if failed:
            return 1, f"Timed {len(results)} pages; not 200: {', '.join(failed)}", {"pages": results}
        slowest = max(results, key=lambda row: row["warm_ms"])
        line = f"Timed {len(results)} pages; slowest warm: {slowest['path']} as {slowest['role']}"
        return 0, f"{line} ({slowest['warm_ms']:.1f} ms)", {"pages": results}
