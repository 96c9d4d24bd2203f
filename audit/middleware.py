"""Request-level audit plumbing: request ids, client addresses and the history context of web writes."""

import functools
import ipaddress

from django.conf import settings

from audit.history import history_context, new_request_id
from audit.models import AuditSource
from ip2a.routes import shaped_reverse


@functools.cache
def _trusted_networks(proxies: tuple[str, ...]):
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _is_trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _trusted_networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or, when that is a trusted proxy, the nearest untrusted hop of
    X-Forwarded-For (read right to left, so a client cannot forge its way past the proxies). When every hop
    is trusted, the furthest one that can be believed is the client (e.g. an office machine inside the network)."""
    remote = request.META.get("REMOTE_ADDR", "")
    if not _is_trusted(remote):
        return remote
    furthest = remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # garbage in the header: nothing left of it can be believed
        if not _is_trusted(hop):
            return hop
        furthest = hop
    return furthest


class RequestIdMiddleware:
    """Give every request an id and its client address; answer the id as X-Request-ID. First in the stack, so
    even responses made by later middleware (HTTPS redirects, CSRF failures) carry the id.

    It also drops X-Forwarded-Proto unless the request came straight from a trusted proxy: Django's
    SECURE_PROXY_SSL_HEADER believes that header from any address, so a client reaching gunicorn directly could
    otherwise claim HTTPS (secure cookies, no redirect, https in CSRF origin checks)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not _is_trusted(request.META.get("REMOTE_ADDR", "")):
            request.META.pop("HTTP_X_FORWARDED_PROTO", None)
        request.request_id = new_request_id()
        request.client_ip = client_ip(request)
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class HistoryMiddleware:
    """Put user, username, source (web, or admin under the admin site), request id, IP and URL on the history
    context of any write the request makes. Runs after authentication."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        admin_prefix = shaped_reverse("admin:index", [])  # reversed once per process (ip2a.routes)
        source = AuditSource.ADMIN if request.path.startswith(admin_prefix) else AuditSource.WEB
        user = request.user if request.user.is_authenticated else None
        with history_context(
            source=source, user=user, request_id=request.request_id, ip=request.client_ip, url=request.path
        ):
            return self.get_response(request)
