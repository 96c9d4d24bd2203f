"""The portal's {% url %} and |date (ip2a/templatetags/portal_builtins.py) and ``perms`` (ip2a.context_processors)
give exactly what Django's own give: same text, same errors; only cheaper."""

import datetime
import zoneinfo

import pytest
from django.contrib.auth.context_processors import PermWrapper
from django.contrib.auth.models import AnonymousUser, Group, User
from django.template import Context, Engine, engines
from django.test import override_settings
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, path, re_path, reverse
from django.utils import timezone

from ip2a import routes
from ip2a.context_processors import PagePerms
from ip2a.roles import STAFF

DJANGO = Engine()  # Django's builtins only
PORTAL = engines["django"].engine  # the project's engine, with ip2a.templatetags.portal_builtins


def render_both(source: str, **values) -> tuple[str, str]:
    """What each engine renders, or the type and message of what it raised."""
    results = []
    for engine in (DJANGO, PORTAL):
        try:
            results.append(engine.from_string(source).render(Context(values)))
        except Exception as exc:  # noqa: BLE001 (compared below: both must raise the same)
            results.append(f"{type(exc).__name__}: {exc}")
    return tuple(results)


def integer_routes(resolver=None, namespace="") -> list[tuple[str, int]]:
    """(namespaced URL name, number of arguments) of every named route of the URLconf whose arguments are all
    integers."""
    found = []
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            found += integer_routes(pattern, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            converters = getattr(pattern.pattern, "converters", {})
            if converters and all(type(c).__name__ == "IntConverter" for c in converters.values()):
                found.append((f"{namespace}{pattern.name}", len(converters)))
    return found


def test_every_integer_route_of_the_portal_is_built_as_reverse_builds_it():
    names = integer_routes()
    assert len(names) > 30  # the walk found the apps' record pages
    for name, count in names:
        for pk in (0, 1, 42, 918273645, 10**12):
            args = [pk] * count
            assert routes.shaped_reverse(name, args) == reverse(name, args=args), name
            assert routes.shaped_reverse(name, [str(pk)] * count) == reverse(name, args=args), name


def test_fixed_string_arguments_are_part_of_the_shape():
    args = ["members", "memberemployment", 7]
    shaped = routes.shaped_reverse("attachments:attachment_files", args, fixed={0, 1})
    other = routes.shaped_reverse("attachments:attachment_files", ["members", "member", 8], fixed={0, 1})

    assert shaped == reverse("attachments:attachment_files", args=args)
    assert other == reverse("attachments:attachment_files", args=["members", "member", 8])


def test_what_has_no_shape_is_reversed_by_django_with_its_errors():
    with pytest.raises(NoReverseMatch):
        routes.shaped_reverse("members:member_detail", [-1])  # the int converter refuses it
    with pytest.raises(NoReverseMatch):
        routes.shaped_reverse("members:no_such_page", [1])
    with pytest.raises(NoReverseMatch):
        routes.shaped_reverse("members:member_detail", [1, 2])  # one argument too many
    with pytest.raises(NoReverseMatch):
        routes.shaped_reverse("members:member_detail", ["12a"])
    assert routes.shaped_reverse("members:member_list", []) == reverse("members:member_list")


urlpatterns = [
    re_path(r"^year/(?P<year>[0-9]{4})/$", lambda request, year: None, name="year"),
    path("page/<int:number>/", lambda request, number: None, name="page"),
]


@override_settings(ROOT_URLCONF=__name__)
def test_a_route_that_refuses_the_probe_number_is_reversed_every_time():
    assert routes.shaped_reverse("year", [2024]) == "/year/2024/"
    assert routes.shaped_reverse("year", [1999]) == "/year/1999/"
    with pytest.raises(NoReverseMatch):
        routes.shaped_reverse("year", [12345])
    assert routes.shaped_reverse("page", [3]) == "/page/3/"  # its own URLconf: no shape of the portal's reused


def test_the_script_prefix_is_part_of_the_shape():
    from django.urls import set_script_prefix

    set_script_prefix("/office/")
    try:
        assert routes.shaped_reverse("members:member_detail", [5]) == "/office/members/5/"
    finally:
        set_script_prefix("/")
    assert routes.shaped_reverse("members:member_detail", [5]) == "/members/5/"


@pytest.mark.parametrize(
    "source",
    [
        "{% url 'members:member_detail' pk %}",
        '{% url "members:member_detail" pk as link %}[{{ link }}]',
        "{% url 'attachments:attachment_files' 'members' 'memberemployment' pk %}",
        "{% url 'attachments:attachment_files' app 'memberemployment' pk %}",
        "{% url name pk %}",
        "{% url 'members:member_detail' pk=pk %}",
        "{% url 'members:member_list' %}",
        "{% url 'members:member_detail' text %}",
        "{% url 'members:no_such_page' pk as link %}[{{ link }}]",
        "{% url 'members:member_detail' negative as link %}[{{ link }}]",
    ],
)
def test_the_url_tag_renders_what_djangos_renders(source):
    values = {"pk": 17, "app": "members", "name": "members:member_detail", "text": "<x>", "negative": -3}
    django_text, portal_text = render_both(source, **values)
    assert portal_text == django_text


def test_the_url_tag_links_a_record():
    assert PORTAL.from_string("{% url 'members:member_detail' 17 %}").render(Context({})) == "/members/17/"


def test_the_url_tag_raises_as_djangos_for_a_missing_route():
    source = "{% url 'members:no_such_page' 3 %}"
    with pytest.raises(NoReverseMatch):
        PORTAL.from_string(source).render(Context({}))


DATES = [
    datetime.date(2026, 11, 27),
    datetime.date(5, 1, 9),
    datetime.datetime(2026, 3, 8, 9, 5, 7, 123456, tzinfo=datetime.UTC),
    datetime.datetime(2026, 11, 1, 23, 59, 59, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo")),
    datetime.datetime(1999, 12, 31, 0, 0),  # naive
    None,
    "",
    "2026-01-01",
]


@pytest.mark.parametrize("fmt", ["Y-m-d", "Y-m-d H:i", "Y-m-d H:i:s", "c", "D d M Y", None])
@pytest.mark.parametrize("value", DATES, ids=repr)
def test_the_date_filter_writes_what_djangos_writes(fmt, value):
    source = f"{{{{ value|date:'{fmt}' }}}}" if fmt else "{{ value|date }}"
    for zone in ("America/Los_Angeles", "UTC"):
        with timezone.override(zone):
            django_text, portal_text = render_both(source, value=value)
            assert portal_text == django_text, (zone, fmt, value)


@pytest.mark.django_db
def test_page_perms_answer_as_djangos_and_ask_each_permission_once(monkeypatch):
    user = User.objects.create_user("perms-staff")
    user.groups.add(Group.objects.get(name=STAFF))
    user = User.objects.get(pk=user.pk)
    asked = []
    original = User.has_perm
    monkeypatch.setattr(User, "has_perm", lambda self, perm, obj=None: asked.append(perm) or original(self, perm))
    page, django = PagePerms(user), PermWrapper(user)
    names = ["members.view_member", "members.change_member", "members.delete_member", "audit.view_global_log"]

    for _row in range(3):
        for name in names:
            app_label, codename = name.split(".")
            assert page[app_label][codename] == django[app_label][codename]
            assert (name in page) == (name in django)

    assert asked.count("members.view_member") == 1 + 3 * 2  # once for the page's wrapper, six times for Django's
    assert bool(page["members"]) is True
    assert bool(PagePerms(AnonymousUser())["members"]) is False
    assert PagePerms(AnonymousUser())["members"]["view_member"] is False
