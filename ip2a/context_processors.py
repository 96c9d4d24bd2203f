"""Template context every page needs: the product version, the navigation the user may see, the header's
links, and ``perms`` answering each permission once per page."""

import functools

from django.conf import settings
from django.contrib.auth.context_processors import PermLookupDict, PermWrapper
from django.contrib.auth.models import AnonymousUser
from django.urls import NoReverseMatch, get_script_prefix, reverse

# (label, URL name, permission needed). A section appears once its URL exists and the user may open it.
NAVIGATION = [
    ("Members", "members:member_list", "members.view_member"),
    ("Organizations", "organizations:organization_list", "organizations.view_organization"),
    ("Training", "training:student_list", "training.view_student"),
    ("Audit", "audit:history_list", "audit.view_global_log"),
]

# The pages of one section, shown under the header on every page of that section (path prefix → entries).
SUBNAVIGATION = {
    "/training/": [
        ("Students", "training:student_list", "training.view_student"),
        ("Cohorts", "training:cohort_list", "training.view_cohort"),
        ("Instructors", "training:instructor_list", "training.view_instructor"),
        ("Locations", "training:location_list", "training.view_location"),
        ("Expiring credentials", "training:credential_expiring", "training.view_credential"),
        ("JATC applications", "training:jatcapplication_list", "training.view_jatcapplication"),
    ],
}


# The header's links on every page (base.html): name in the template → URL name.
HEADER_LINKS = {
    "dashboard": "dashboard",
    "search": "search",
    "admin": "admin:index",
    "password_change": "password_change",
    "logout": "logout",
}


@functools.cache
def _url(url_name: str, script_prefix: str) -> str | None:
    """reverse() of a URL name without arguments, once per process and script prefix (the URLconf does not
    change while the process runs); None when it has no URL."""
    try:
        return reverse(url_name)
    except NoReverseMatch:
        return None


@functools.cache
def _header_links(script_prefix: str) -> dict[str, str]:
    return {name: _url(url_name, script_prefix) for name, url_name in HEADER_LINKS.items()}


def _entries(request, user, table, *, section: bool = False):
    """The entries of a navigation table whose URL exists and whose permission the user holds; with
    ``section`` an entry is active anywhere under its URL's first path segment (/training/…)."""
    entries = []
    script_prefix = get_script_prefix()
    for label, url_name, permission in table:
        url = _url(url_name, script_prefix)
        if url is None:
            continue
        if user.has_perm(permission):
            prefix = "/" + url.strip("/").split("/")[0] + "/" if section else url
            entries.append({"label": label, "url": url, "active": request.path.startswith(prefix)})
    return entries


class PagePermLookupDict(PermLookupDict):
    """One app's permissions of PagePerms: each asked of the user once."""

    def __init__(self, user, app_label):
        super().__init__(user, app_label)
        self.answers = {}

    def __getitem__(self, perm_name):
        answer = self.answers.get(perm_name)
        if answer is None:
            answer = self.answers[perm_name] = super().__getitem__(perm_name)
        return answer


class PagePerms(PermWrapper):
    """Django's ``perms`` (same lookups and answers) that asks the user for each permission once per template
    context: a table's rows ask the same few permissions again for every row, and each ask walks the request's
    lazy user, loads the authentication backends and checks the user's flags again."""

    def __init__(self, user):
        super().__init__(user)
        self.apps = {}

    def __getitem__(self, app_label):
        lookup = self.apps.get(app_label)
        if lookup is None:
            lookup = self.apps[app_label] = PagePermLookupDict(self.user, app_label)
        return lookup


def portal(request):
    """Return the version for the footer, the navigation entries (and those of the current section) the user
    may see, and ``perms`` in place of the one django.contrib.auth's context processor (listed before this one,
    as the admin requires) puts in."""
    nav, subnav = [], []
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        nav = _entries(request, user, NAVIGATION, section=True)
        for prefix, table in SUBNAVIGATION.items():
            if request.path.startswith(prefix):
                subnav = _entries(request, user, table)
    return {
        "ip2a_version": settings.IP2A_VERSION,
        "ip2a_env": settings.IP2A_ENV,
        "navigation": nav,
        "subnavigation": subnav,
        "header_links": _header_links(get_script_prefix()),
        "perms": PagePerms(user if user is not None else AnonymousUser()),
    }
