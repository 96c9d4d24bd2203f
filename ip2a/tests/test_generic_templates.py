"""The generic templates render for any model (templates cannot read _meta: the portal filters do)."""

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory

from members.factories import MemberFactory
from members.models import Member

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_for(make_user):
    request = RequestFactory().get("/")
    request.user = make_user("staff")
    return request


def test_object_detail_template_names_the_model_of_a_deleted_record(request_for):
    member = MemberFactory()
    member.soft_delete(reason="left")

    html = render_to_string("generic/object_detail.html", {"object": member}, request=request_for)

    assert "This member was deleted on" in html


def test_object_confirm_template_names_the_model(request_for):
    member = MemberFactory(first_name="Ana", last_name="Ruiz")

    html = render_to_string(
        "generic/object_confirm.html", {"object": member, "action_label": "Delete"}, request=request_for
    )

    assert "Delete member “" in html


def test_object_form_template_names_the_model_of_a_new_record(request_for):
    class View:
        model = Member

    html = render_to_string("generic/object_form.html", {"view": View(), "object": None}, request=request_for)

    assert "New member" in html
