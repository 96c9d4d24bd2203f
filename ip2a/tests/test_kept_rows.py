"""{% keptrow %}: a table row rendered once per process for the values it shows, and anew when they change."""

import itertools

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.utils import timezone

from ip2a.templatetags import portal
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member, MemberEmployment

pytestmark = pytest.mark.django_db

ROW = "{% load portal %}{% keptrow member %}{{ member.last_name }}, {{ member.first_name }}{% endkeptrow %}"


class Counter:
    """Counts how often a template reads it: what a kept row does not render again."""

    def __init__(self):
        self.numbers = itertools.count(1)

    def __str__(self):
        return str(next(self.numbers))


def render(source, **context):
    return Template(source).render(Context(context))


def test_a_row_with_the_same_values_is_served_from_memory():
    template = Template(
        "{% load portal %}{% keptrow member %}{{ member.last_name }} {{ counter }}{% endkeptrow %}"
    )  # counter is outside the key on purpose: it shows whether the block ran
    member, counter = MemberFactory(last_name="Ruiz"), Counter()

    first = template.render(Context({"member": Member.objects.get(pk=member.pk), "counter": counter}))
    again = template.render(Context({"member": Member.objects.get(pk=member.pk), "counter": counter}))

    assert (first, again) == ("Ruiz 1", "Ruiz 1")


def test_a_changed_value_renders_the_row_again():
    template = Template(ROW)
    member = MemberFactory(first_name="Ana", last_name="Ruiz")
    assert template.render(Context({"member": member})) == "Ruiz, Ana"

    Member.objects.filter(pk=member.pk).update(first_name="Ana María")

    assert template.render(Context({"member": Member.objects.get(pk=member.pk)})) == "Ruiz, Ana María"


def test_values_the_view_set_and_joined_rows_are_part_of_the_key():
    template = Template(
        "{% load portal %}{% keptrow job %}{{ job.organization.name }} {{ job.label }}{% endkeptrow %}"
    )
    job = MemberEmploymentFactory(organization__name="Acme Electric")
    loaded = MemberEmployment.objects.select_related("organization").get(pk=job.pk)
    loaded.label = "current"
    assert template.render(Context({"job": loaded})) == "Acme Electric current"

    job.organization.name = "Acme Electric West"
    job.organization.save()
    renamed = MemberEmployment.objects.select_related("organization").get(pk=job.pk)
    renamed.label = "ended"

    assert template.render(Context({"job": renamed})) == "Acme Electric West ended"


def test_further_values_are_part_of_the_key():
    template = Template(
        "{% load portal %}{% keptrow member may_edit %}{% if may_edit %}Edit{% endif %}{% endkeptrow %}"
    )
    member = MemberFactory()

    rendered = [template.render(Context({"member": member, "may_edit": flag})) for flag in (True, False, True)]

    assert rendered == ["Edit", "", "Edit"]


def test_each_kept_row_block_keeps_its_own_rows():
    member = MemberFactory(first_name="Ana", last_name="Ruiz")

    assert render(ROW, member=member) == "Ruiz, Ana"
    assert render(ROW.replace("last_name }}, ", "last_name }} / "), member=member) == "Ruiz / Ana"


def test_a_row_holding_a_lazy_queryset_renders_every_time():
    template = Template(
        "{% load portal %}{% keptrow member jobs %}{{ member.last_name }} {{ counter }}{% endkeptrow %}"
    )
    member, counter = MemberFactory(last_name="Ruiz"), Counter()
    jobs = MemberEmployment.objects.filter(member=member)  # never evaluated: its content is unknown

    rendered = [template.render(Context({"member": member, "jobs": jobs, "counter": counter})) for _ in range(2)]

    assert rendered == ["Ruiz 1", "Ruiz 2"]


def test_the_time_zone_is_part_of_the_key():
    template = Template("{% load portal %}{% keptrow member %}{{ member.created_at|date:'e' }}{% endkeptrow %}")
    member = MemberFactory()

    with timezone.override("UTC"):
        in_utc = template.render(Context({"member": member}))
    with timezone.override("America/Los_Angeles"):
        in_los_angeles = template.render(Context({"member": member}))

    assert in_utc == "UTC"
    assert in_los_angeles in {"PST", "PDT"}


def test_fingerprints_tell_types_apart():
    assert portal.fingerprint(1) != portal.fingerprint(True)
    assert portal.fingerprint("1") != portal.fingerprint(1)
    with pytest.raises(portal.Unkeyable):
        portal.fingerprint(object())


def test_kept_rows_are_bounded(monkeypatch):
    monkeypatch.setattr(portal, "ROWS_KEPT", 3)
    monkeypatch.setattr(portal, "_rows", portal.OrderedDict())
    template = Template(ROW)

    for member in MemberFactory.create_batch(5):
        template.render(Context({"member": member}))

    assert len(portal._rows) == 3


def test_keptrow_needs_the_row():
    with pytest.raises(TemplateSyntaxError, match="needs the row"):
        Template("{% load portal %}{% keptrow %}x{% endkeptrow %}")
