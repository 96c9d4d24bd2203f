"""The shared filter machinery: SortFilter and DeletedFilterSet."""

import pytest

from members.factories import MemberFactory
from members.filters import MemberFilterSet
from members.models import Member
from training.filters.cohorts import CohortFilterSet
from training.models import Cohort

pytestmark = pytest.mark.django_db


class Request:
    def __init__(self, user):
        self.user = user


def test_sort_expands_a_key_to_its_columns_then_the_models_order():
    filterset = MemberFilterSet({"sort": "-name"}, queryset=Member.objects.all())

    assert filterset.qs.query.order_by == ("-last_name", "-first_name", "pk")


def test_sort_keeps_pages_stable_for_rows_that_tie():
    for _ in range(3):
        MemberFactory(last_name="Same", first_name="Name")

    filterset = MemberFilterSet({"sort": "name"}, queryset=Member.objects.all())

    assert list(filterset.qs.values_list("pk", flat=True)) == sorted(Member.objects.values_list("pk", flat=True))


def test_deleted_switch_is_offered_only_to_those_who_may_restore(make_user):
    officer_form = CohortFilterSet({}, queryset=Cohort.all_objects.all(), request=Request(make_user("officer"))).form
    staff_form = CohortFilterSet({}, queryset=Cohort.all_objects.all(), request=Request(make_user("staff"))).form

    assert "deleted" not in officer_form.fields
    assert staff_form.fields["deleted"].choices == [("", "Live cohorts"), ("only", "Deleted cohorts")]
    assert list(staff_form.fields)[-2:] == ["deleted", "sort"]


def test_sortable_th_sorts_ascending_then_descending_and_keeps_the_filters(rf):
    from django.template import Context, Template

    template = Template('{% load portal %}{% sortable_th "name" "Name" %}')

    first = template.render(Context({"request": rf.get("/members/", {"q": "ruiz", "page": "3"})}))
    again = template.render(Context({"request": rf.get("/members/", {"q": "ruiz", "sort": "name"})}))
    other = template.render(Context({"request": rf.get("/members/", {"sort": "-name"})}))

    assert first == '<th scope="col"><a href="?q=ruiz&amp;sort=name">Name</a></th>'
    assert again == '<th scope="col" aria-sort="ascending"><a href="?q=ruiz&amp;sort=-name">Name</a></th>'
    assert other == '<th scope="col" aria-sort="descending"><a href="?sort=name">Name</a></th>'
