#!/usr/bin/env python3
"""Time pages and exports in one process through Django's test client, without a server or a load test
(docs/benchmarks.md, session 22): what a change costs one request, before an A/B under load says what it
costs the mix.

    IP2A_ENV=dev DEBUG=false .venv/bin/python scripts/direct_timings.py [NAME …]

NAME is any of the measurements below (all when none is given); each runs in a process of its own, so the
peak memory it reports is its own. Run it on the dev database after `manage.py seed --stress`: it signs in
users of its own (bench-staff, bench-admin) and edits members' phones and notes. Refused in production.
"""

import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def client(role: str):
    from django.contrib.auth.models import Group, User
    from django.test import Client

    user, _ = User.objects.get_or_create(username=f"bench-{role}")
    user.groups.add(Group.objects.get(name=role))
    browser = Client(HTTP_HOST="127.0.0.1")
    browser.force_login(user)
    return browser


def live_members(count: int, seed: int) -> list[int]:
    from members.models import Member

    pks = list(Member.objects.filter(deleted_at__isnull=True).values_list("pk", flat=True))
    random.Random(seed).shuffle(pks)
    return pks[:count]


def form_fields(html: str) -> dict:
    """The values a browser would send back from the page's form."""
    from html.parser import HTMLParser

    fields = {}

    class Fields(HTMLParser):
        select = textarea = None

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            name = attrs.get("name")
            if tag == "input" and name and attrs.get("type") not in ("submit", "checkbox", "search"):
                fields[name] = attrs.get("value") or ""
            elif tag == "select":
                self.select = name
            elif tag == "option" and self.select and "selected" in attrs:
                fields[self.select] = attrs.get("value")
            elif tag == "textarea":
                self.textarea = name
                fields[name] = ""

        def handle_endtag(self, tag):
            if tag == "select":
                self.select = None
            elif tag == "textarea":
                self.textarea = None

        def handle_data(self, data):
            if self.textarea:
                fields[self.textarea] += data

    Fields().feed(html)
    return fields


def ms_each(seconds: float, count: int) -> str:
    return f"{seconds / count * 1000:.1f} ms each"


def edit_member() -> str:
    """800 edits of a member's phone and notes (the load mix's update-member POST), the form read first."""
    browser, posts = client("staff"), 0.0
    pks = live_members(400, seed=1) * 2
    for number, pk in enumerate(pks):
        fields = form_fields(browser.get(f"/members/{pk}/edit/").content.decode())
        fields.update(phone=f"555-{random.randint(100, 999)}-{random.randint(1000, 9999)}", notes=f"bench {number}")
        started = time.perf_counter()
        response = browser.post(f"/members/{pk}/edit/", fields)
        posts += time.perf_counter() - started
        assert response.status_code == 302, response.status_code
    return f"update-member POST: {ms_each(posts, len(pks))} ({len(pks)} POSTs)"


def member_page() -> str:
    """600 members' pages never shown since the cache was emptied, then the same 600 again (kept)."""
    from django.core.cache import cache

    cache.clear()
    browser, pks = client("staff"), live_members(600, seed=3)
    rounds = []
    for _ in range(2):
        started = time.perf_counter()
        for pk in pks:
            assert browser.get(f"/members/{pk}/").status_code == 200
        rounds.append(time.perf_counter() - started)
    return f"member page: first view {ms_each(rounds[0], 600)}, kept {ms_each(rounds[1], 600)}"


def kept_list() -> str:
    """Member list pages 2–39 kept, then shown with no write since, then each after a write to another member."""
    from members.models import Member

    browser, pages = client("staff"), range(2, 40)
    other = Member.objects.order_by("-pk").first()
    for _ in range(3):  # rendered, kept by content, kept under the versions
        for page in pages:
            browser.get(f"/members/?page={page}")
    started = time.perf_counter()
    for page in pages:
        browser.get(f"/members/?page={page}")
    unchanged = time.perf_counter() - started
    checked = 0.0
    for page in pages:
        Member.objects.filter(pk=other.pk).update(notes=f"bench {time.time()}")
        started = time.perf_counter()
        browser.get(f"/members/?page={page}")
        checked += time.perf_counter() - started
    return (
        f"kept member list page: no write since {ms_each(unchanged, len(pages))}, "
        f"checked after a write {ms_each(checked, len(pages))}"
    )


def floor() -> str:
    """What every page costs before its own work: /healthz for a signed-in user, through the whole middleware
    stack (the session and user read included, nothing else from the database), and the page around the
    content (base.html with its context processors) rendered for that user, as a kept list page renders it
    around its kept content."""
    from django.contrib.messages.storage import default_storage
    from django.template.loader import render_to_string
    from django.test import RequestFactory
    from django.utils.safestring import mark_safe

    browser, rounds = client("staff"), 2000
    for _ in range(50):
        browser.get("/healthz")
    started = time.perf_counter()
    for _ in range(rounds):
        assert browser.get("/healthz").status_code == 200
    bare = time.perf_counter() - started
    request = RequestFactory().get("/members/", {"page": 3})
    request.user = browser.get("/members/").wsgi_request.user
    request.session = browser.session
    request._messages = default_storage(request)
    context = {"kept_title": "Members", "kept_content": mark_safe("<p>row</p>" * 50)}
    for _ in range(50):
        render_to_string("generic/kept_page.html", context, request=request)
    started = time.perf_counter()
    for _ in range(rounds):
        render_to_string("generic/kept_page.html", context, request=request)
    chrome = time.perf_counter() - started
    each = f"/healthz {bare / rounds * 1000:.2f} ms each"
    return f"floor: {each}; the page around the content {chrome / rounds * 1000:.2f} ms each"


def history_export(fmt: str) -> str:
    browser = client("admin")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    response = browser.get("/audit/", {"export": fmt})
    returned = time.perf_counter() - started
    size = sum(len(chunk) for chunk in (response.streaming_content if response.streaming else [response.content]))
    total = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (
        f"history export {fmt}: {size:,} bytes in {total:.1f} s (view returned in {returned:.1f} s), "
        f"peak RSS {peak:.0f} MB (from {before:.0f} MB)"
    )


MEASUREMENTS = {
    "edit-member": edit_member,
    "member-page": member_page,
    "kept-list": kept_list,
    "floor": floor,
    "export-csv": lambda: history_export("csv"),
    "export-xlsx": lambda: history_export("xlsx"),
}


def main() -> int:
    names = sys.argv[1:] or list(MEASUREMENTS)
    unknown = [name for name in names if name.removeprefix("--one=") not in MEASUREMENTS]
    if unknown:
        print(f"unknown: {', '.join(unknown)}; choose from {', '.join(MEASUREMENTS)}", file=sys.stderr)
        return 2
    if len(names) == 1 and names[0].startswith("--one="):
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ip2a.settings")
        import django

        django.setup()
        from django.conf import settings

        if settings.PRODUCTION:
            print("direct_timings.py writes to the database: refused in production.", file=sys.stderr)
            return 2
        print(MEASUREMENTS[names[0].removeprefix("--one=")](), flush=True)
        return 0
    failed = 0
    for name in names:  # each in a process of its own: its peak memory is its own
        failed |= subprocess.run([sys.executable, __file__, f"--one={name}"], cwd=ROOT).returncode
    return failed


if __name__ == "__main__":
    sys.exit(main())
