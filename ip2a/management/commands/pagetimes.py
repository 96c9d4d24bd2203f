"""Time portal pages in-process, per role: the server time of a page without network or gunicorn.

Django's test client sends ``Host: testserver``; the command lets that host in for its own requests only, so it
needs no ALLOWED_HOSTS change in any environment it runs in (not production: it creates users). A page that
does not answer 200 fails the run (exit 1): its time would not be the page's. Of the default pages, each role
is timed on those it may open (the others are listed as skipped); pages named with --paths are timed for every
role given, and a refusal fails the run.

manage.py pagetimes                         # the default pages for officer, staff and instructor
manage.py pagetimes --roles staff --paths / /members/ --repeat 10
"""

import statistics
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.test import Client
from django.test.utils import override_settings
from django.urls import Resolver404, resolve

from ip2a.commands import REFUSE, OperatorCommand

DEFAULT_PATHS = ["/", "/audit/", "/search/?q=smi", "/members/", "/training/students/"]


class Command(OperatorCommand):
    help = "Time pages through Django's test client per role, cold (empty cache) and warm; prints one line each."
    production = REFUSE  # it creates bench-<role> users

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--roles", nargs="+", default=["officer", "staff", "instructor"], help="Roles to time.")
        parser.add_argument(
            "--paths",
            nargs="+",
            help="Paths to time (default: the dashboard, history log, search, member and student lists, each for "
            "the roles that may open it).",
        )
        parser.add_argument("--repeat", type=int, default=5, help="Warm requests per page (default 5).")

    def run(self, **options):
        with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
            return self.time_pages(**options)

    def time_pages(self, *, roles, paths, repeat, **options):
        Client().get("/healthz")  # compile the URL conf and middleware before the first measured page
        results, skipped = [], 0
        for role in roles:
            user, _ = User.objects.get_or_create(username=f"bench-{role}")
            user.groups.set([Group.objects.get(name=role)])
            client = Client()
            client.force_login(user)
            for path in paths or DEFAULT_PATHS:
                if not paths and not may_open(user, path):
                    self.stdout.write(f"{role:10} {path:24} skipped: the role may not open it")
                    skipped += 1
                    continue
                cache.clear()
                started = time.perf_counter()
                status = client.get(path).status_code
                cold = (time.perf_counter() - started) * 1000
                if not paths and status == 403:  # a check may_open() cannot see ahead
                    self.stdout.write(f"{role:10} {path:24} skipped: the role may not open it (403)")
                    skipped += 1
                    continue
                warm = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    client.get(path)
                    warm.append((time.perf_counter() - started) * 1000)
                median = statistics.median(warm) if warm else cold
                self.stdout.write(f"{role:10} {path:24} {status} cold {cold:6.1f} ms  warm median {median:6.1f} ms")
                results.append({"role": role, "path": path, "status": status, "cold_ms": cold, "warm_ms": median})
        timed = f"Timed {len(results)} pages" + (f" ({skipped} skipped: not the role's)" if skipped else "")
        failed = [f"{row['path']} as {row['role']} ({row['status']})" for row in results if row["status"] != 200]
        if failed:
            return 1, f"{timed}; not 200: {', '.join(failed)}", {"pages": results}
        if not results:
            return 1, f"{timed}: no page to time", {"pages": results}
        slowest = max(results, key=lambda row: row["warm_ms"])
        line = f"{timed}; slowest warm: {slowest['path']} as {slowest['role']}"
        return 0, f"{line} ({slowest['warm_ms']:.1f} ms)", {"pages": results}


def may_open(user, path: str) -> bool:
    """Whether ``user`` holds the permissions the view of ``path`` names in ``permission_required``, asked without
    a request so that a refused page logs no PermissionDenied; True wherever that attribute is not the whole
    check (function views, views overriding has_permission or get_permission_required, paths that resolve to no
    view): their request then answers, and a 403 is skipped too."""
    try:
        view_class = getattr(resolve(urlsplit(path).path).func, "view_class", None)
    except Resolver404:
        return True
    if view_class is None or not issubclass(view_class, PermissionRequiredMixin):
        return True
    for method in ("has_permission", "get_permission_required"):
        if getattr(view_class, method) is not getattr(PermissionRequiredMixin, method):
            return True
    required = view_class.permission_required
    if not required:
        return True
    return user.has_perms((required,) if isinstance(required, str) else required)
