"""HistoryMiddleware: request ids, client addresses behind proxies, and the history context of web and
admin writes (DOMAIN.md §6)."""

import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse

from audit.middleware import HistoryMiddleware, RequestIdMiddleware, client_ip
from audit.models import UserEvent
from members.factories import MemberFactory
from members.models import Member

pytestmark = pytest.mark.django_db

PROXY = "10.1.2.3"


def write_member(request):
    member = MemberFactory()
    return HttpResponse(str(member.pk))


def member_event(response):
    return Member.pgh_event_model.objects.get(pgh_obj_id=int(response.content))


@pytest.fixture
def admin_user(make_user):
    return make_user("admin", username="ada", is_staff=True)


# --- Context of writes ---------------------------------------------------------------------------------------


def test_history_middleware_admin_write_records_the_admin_context(client, admin_user, make_user):
    target = make_user(None, username="bob")
    client.force_login(admin_user)
    path = f"/admin/auth/user/{target.pk}/change/"
    data = {
        "username": "bob",
        "first_name": "Robert",
        "is_active": "on",
        "date_joined_0": target.date_joined.date().isoformat(),
        "date_joined_1": "09:00:00",
    }

    response = client.post(path, data)

    assert response.status_code == 302
    update = UserEvent.objects.get(pgh_obj_id=target.pk, pgh_label="update")
    assert update.first_name == "Robert"
    assert update.pgh_context == {
        "source": "admin",
        "user_id": admin_user.pk,
        "username": "ada",
        "reason": "",
        "url": path,
        "ip": "127.0.0.1",
        "request_id": response["X-Request-ID"],
    }


def test_history_middleware_web_write_records_the_web_context(rf, make_user):
    user = make_user("staff", username="sam")
    request = rf.post("/members/new/", REMOTE_ADDR="198.51.100.7")
    request.user = user

    response = RequestIdMiddleware(HistoryMiddleware(write_member))(request)

    assert member_event(response).pgh_context == {
        "source": "web",
        "user_id": user.pk,
        "username": "sam",
        "reason": "",
        "url": "/members/new/",
        "ip": "198.51.100.7",
        "request_id": response["X-Request-ID"],
    }


def test_history_middleware_records_the_forwarded_client_behind_a_trusted_proxy(rf, make_user, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = rf.post("/members/new/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.9")
    request.user = make_user("staff")

    response = RequestIdMiddleware(HistoryMiddleware(write_member))(request)

    assert member_event(response).pgh_context["ip"] == "203.0.113.9"


def test_history_middleware_anonymous_write_records_no_user(rf):
    request = rf.post("/accounts/password-reset/", REMOTE_ADDR="198.51.100.7")
    request.user = AnonymousUser()

    response = RequestIdMiddleware(HistoryMiddleware(write_member))(request)

    context = member_event(response).pgh_context
    assert (context["source"], context["user_id"], context["username"]) == ("web", None, "")


# --- Request ids ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/", "/accounts/login/", "/admin/"])
def test_history_middleware_answers_every_anonymous_response_with_a_request_id(client, path):
    response = client.get(path)

    assert uuid.UUID(response["X-Request-ID"]).version == 4


def test_history_middleware_gives_each_request_its_own_id(client, make_user):
    client.force_login(make_user("staff"))

    first, second = client.get("/"), client.get("/")

    assert first.status_code == second.status_code == 200
    assert uuid.UUID(first["X-Request-ID"]) != uuid.UUID(second["X-Request-ID"])


# --- Client addresses ----------------------------------------------------------------------------------------


def test_client_ip_is_remote_addr_without_trusted_proxies(rf, settings):
    settings.TRUSTED_PROXIES = []
    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert client_ip(request) == PROXY


def test_client_ip_ignores_forwarded_for_from_an_untrusted_address(rf, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = rf.get("/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert client_ip(request) == "198.51.100.7"


@pytest.mark.parametrize(
    ("forwarded_for", "expected"),
    [
        ("203.0.113.9, 10.0.0.5", "203.0.113.9"),  # client, then a second proxy of ours
        ("6.6.6.6, 203.0.113.9", "203.0.113.9"),  # a forged left-most hop is never reached
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8::1", "2001:db8::1"),
        ("10.0.0.7", "10.0.0.7"),  # every hop trusted: the furthest one is the client
        ("", PROXY),
        ("garbage", PROXY),
        ("203.0.113.9, garbage", PROXY),  # garbage nearest to us: nothing behind it can be believed
        ("garbage, 203.0.113.9", "203.0.113.9"),
        ("203.0.113.9, 10.0.0.5:8080", PROXY),
    ],
)
def test_client_ip_reads_forwarded_for_from_a_trusted_proxy(rf, settings, forwarded_for, expected):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for)

    assert client_ip(request) == expected


def test_client_ip_trusts_a_single_proxy_address(rf, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    request = rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")

    assert client_ip(request) == "203.0.113.9"


# --- X-Forwarded-Proto -----------------------------------------------------------------------------------------


def request_is_secure(rf, remote_addr):
    """Whether the view behind RequestIdMiddleware sees a plain-HTTP request claiming HTTPS as secure."""
    request = rf.get("/", REMOTE_ADDR=remote_addr, HTTP_X_FORWARDED_PROTO="https")
    seen = []

    def view(request):
        seen.append(request.is_secure())
        return HttpResponse()

    RequestIdMiddleware(view)(request)
    return seen[0]


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.mark.usefixtures("behind_proxy")
def test_request_id_middleware_believes_forwarded_proto_from_a_trusted_proxy(rf):
    assert request_is_secure(rf, PROXY) is True


@pytest.mark.usefixtures("behind_proxy")
def test_request_id_middleware_ignores_forwarded_proto_from_an_untrusted_address(rf):
    assert request_is_secure(rf, "198.51.100.7") is False


@pytest.mark.usefixtures("behind_proxy")
@pytest.mark.parametrize(
    ("remote_addr", "answer"), [(PROXY, (200, None)), ("198.51.100.7", (301, "https://testserver/healthz"))]
)
def test_https_redirect_applies_to_a_forwarded_proto_claim_from_an_untrusted_address(
    client, settings, remote_addr, answer
):
    # The whole stack: SecurityMiddleware's redirect sees the request as RequestIdMiddleware left it.
    settings.SECURE_SSL_REDIRECT = True

    response = client.get("/healthz", REMOTE_ADDR=remote_addr, HTTP_X_FORWARDED_PROTO="https")

    assert (response.status_code, response.get("Location")) == answer
