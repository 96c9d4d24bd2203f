"""Every URL pattern, walked from the resolver, requires login except the public few."""

import re
import uuid
from urllib.parse import quote

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

pytestmark = pytest.mark.django_db

PUBLIC_URL_NAMES = {"login", "healthz", "readyz"}
# The admin's login URL is no page of its own: it forwards (with its query string) to the portal login.
FORWARDS_TO_LOGIN = {"admin_login"}
SAMPLES = {"int": "1", "str": "x", "slug": "x", "path": "x", "uuid": str(uuid.uuid4())}


def _sample_route(route: str) -> str:
    return re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLES.get(m.group(1) or "str", "x"), route)


def _sample_regex(regex: str) -> str:
    def group(match):
        body = match.group(1)
        first = body.split("|")[0]
        return first if re.fullmatch(r"[\w-]+", first) else "1"

    text = regex.lstrip("^").rstrip("$").replace("\\Z", "")
    text = re.sub(r"\(\?P<\w+>([^()]*)\)", group, text)
    return text.replace("\\", "")


def walk(resolver=None, prefix=""):
    """Yield (sample path, name of the view that answers it) for every pattern in the root URLconf."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        pattern = entry.pattern
        piece = (
            _sample_route(str(pattern)) if isinstance(pattern, RoutePattern) else _sample_regex(pattern.regex.pattern)
        )
        if isinstance(entry, URLResolver):
            yield from walk(entry, prefix + piece)
        elif isinstance(entry, URLPattern):
            if isinstance(pattern, RegexPattern) and entry.name is None and ".*" in pattern.regex.pattern:
                piece = "x/"  # the admin's catch-all view
            path = "/" + prefix + piece
            yield path, resolve(path).view_name


ALL_URLS = sorted(set(walk()))


def test_walk_finds_the_known_pages():
    names = {name for _, name in ALL_URLS}
    assert {"dashboard", "login", "logout", "password_change", "healthz", "readyz", "admin:index"} <= names


@pytest.mark.parametrize(("path", "name"), ALL_URLS, ids=[path for path, _ in ALL_URLS])
def test_every_url_requires_login_except_public_ones(client, path, name):
    response = client.get(path)

    if name in PUBLIC_URL_NAMES:
        assert response.status_code == 200
        return
    assert response.status_code == 302
    if name in FORWARDS_TO_LOGIN:
        assert response["Location"] == "/accounts/login/"
        return
    if response["Location"].startswith("/admin/login/"):
        # The admin site's own views send to its login URL first, which hands over to the portal's login.
        assert response["Location"] == f"/admin/login/?next={quote(path)}"
        response = client.get(response["Location"])
        assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={quote(path)}"
