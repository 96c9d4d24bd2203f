"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live server.

Every page a test opens is checked as it loads: exactly one h1, a "Skip to main content" link, no script
error and no Content-Security-Policy violation (the checks run when the page's fixture is torn down).
"""

import os
import shutil

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from playwright.sync_api import expect

from ip2a.roles import ROLE_NAMES, sync_roles

# Playwright's sync API keeps an event loop running in the test thread for the rest of the session, and
# Django refuses ORM calls while a loop runs; the ORM calls of these tests (and of every test after them) are
# plain synchronous code all the same. Subprocesses that must not inherit it (check --deploy) unset it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium")
# --no-sandbox: CI runs as root. The rest keep Chromium off the (closed) network and quick to start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous for a busy 2-core machine; expect() returns as soon as the condition holds.
expect.set_options(timeout=15_000)

# Runs in every document before its own scripts (CSP does not apply to it): reports what each page needs.
PAGE_PROBE = """
addEventListener("securitypolicyviolation", (event) => {
  window.e2eReport({url: location.href, csp: `${event.violatedDirective} blocked ${event.blockedURI || "inline"}`});
});
addEventListener("DOMContentLoaded", () => {
  const skip = [...document.querySelectorAll("a")].filter((a) => a.textContent.trim() === "Skip to main content");
  window.e2eReport({url: location.href, h1: document.querySelectorAll("h1").length, skip: skip.length});
});
"""


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch Debian's Chromium (`playwright install` is never run), or skip every browser test without it."""
    if CHROMIUM is None:
        pytest.skip("Browser tests need Debian's chromium package (`apt-get install chromium`; CI's .ci/run does).")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(autouse=True)
def _imports_dir(settings, tmp_path):
    """Previewed import files wait in the test's own folder, never in var/imports."""
    settings.IMPORTS_DIR = tmp_path / "imports"


@pytest.fixture
def roles(transactional_db):
    """The role groups. The flush after each transactional test empties auth_group, and the post_migrate signal
    the flush sends re-syncs them; checked here all the same, so no test depends on that signal."""
    if Group.objects.filter(name__in=ROLE_NAMES).count() != len(ROLE_NAMES):
        sync_roles()


@pytest.fixture
def session_cookie(live_server, roles, make_user):
    """Return a function giving the session cookie of a fresh user holding the given role (no login form)."""

    def cookie(role, username=None):
        client = Client()
        client.force_login(make_user(role, username=username))
        return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}

    return cookie


@pytest.fixture(scope="session")
def base_url(live_server):
    """Pages open the live server's URLs by path: page.goto("/members/")."""
    return live_server.url


@pytest.fixture
def new_context(new_context):
    """Contexts report every page they load; when the test ends, each page must have had one h1 and the skip
    link, and no page may have had a script error or a CSP violation."""
    reports, errors = [], []

    def create(**kwargs):
        context = new_context(**kwargs)
        if kwargs.get("java_script_enabled", True):
            context.expose_function("e2eReport", lambda report: reports.append(report))
            context.add_init_script(PAGE_PROBE)
            context.on("weberror", lambda error: errors.append(f"{error.page and error.page.url}: {error.error}"))
        return context

    yield create
    problems = list(errors)
    for report in reports:
        if "csp" in report:
            problems.append(f"{report['url']}: CSP violation, {report['csp']}")
        elif report["h1"] != 1 or report["skip"] != 1:
            problems.append(f"{report['url']}: {report['h1']} h1 and {report['skip']} skip links (1 of each wanted)")
    assert not problems, "\n".join(problems)


@pytest.fixture
def context(new_context):
    return new_context()


@pytest.fixture
def staff_page(page, session_cookie):
    """A page logged in as office staff, who may do everything these tests do."""
    page.context.add_cookies([session_cookie("staff")])
    return page
