"""Admin of members and employments: query budgets, soft delete and restore actions, owned-row deletes."""

import pytest
from django.contrib.admin import helpers
from django.urls import reverse

from attachments.factories import AttachmentFactory
from attachments.models import Attachment
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member, MemberEmployment
from organizations.factories import EmployerFactory

pytestmark = pytest.mark.django_db

MEMBERS = reverse("admin:members_member_changelist")
EMPLOYMENTS = reverse("admin:members_memberemployment_changelist")


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("admin", is_staff=True))
    return client


def action(name, *objects, **extra):
    """POST data of a changelist action on ``objects``."""
    return {
        "action": name,
        "index": "0",
        "select_across": "0",
        helpers.ACTION_CHECKBOX_NAME: [obj.pk for obj in objects],
        **extra,
    }


def test_member_changelist_within_query_budget(admin_client, django_assert_max_num_queries):
    MemberFactory.create_batch(30)

    # session, user, user and group permissions, count probe, count, page, session renewal (3) + 1 spare
    with django_assert_max_num_queries(11):
        response = admin_client.get(MEMBERS)

    assert len(response.context["cl"].result_list) == 30


def test_employment_changelist_within_query_budget(admin_client, django_assert_max_num_queries):
    employers = EmployerFactory.create_batch(3)
    for index in range(60):
        MemberEmploymentFactory(organization=employers[index % 3])

    # session, user, user and group permissions, count probe, count, page (members and employers joined),
    # session renewal (3) + 1 spare
    with django_assert_max_num_queries(11):
        response = admin_client.get(EMPLOYMENTS)

    assert len(response.context["cl"].result_list) == 60


def test_member_event_changelist_within_query_budget(admin_client, django_assert_max_num_queries):
    for member in MemberFactory.create_batch(30):
        member.soft_delete(reason="test")

    # session, user, user and group permissions, count probe, count, page, members, session renewal (3) + 1 spare
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:members_memberevent_changelist"))

    assert len(response.context["cl"].result_list) == 60


def test_employment_event_changelist_within_query_budget(admin_client, django_assert_max_num_queries):
    MemberEmploymentFactory.create_batch(30)

    # session, user, user and group permissions, count probe, count, page, employments, employers,
    # session renewal (3) + 1 spare
    with django_assert_max_num_queries(13):
        response = admin_client.get(reverse("admin:members_memberemploymentevent_changelist"))

    assert len(response.context["cl"].result_list) == 30


def test_member_soft_delete_action_asks_for_the_reason(admin_client):
    member = MemberFactory()

    response = admin_client.post(MEMBERS, action("soft_delete_selected", member))

    assert response.context["objects"] == [member]
    assert Member.objects.filter(pk=member.pk).exists()


def test_member_soft_delete_action_hides_the_member_and_records_the_reason(admin_client):
    member, other = MemberFactory.create_batch(2)

    admin_client.post(MEMBERS, action("soft_delete_selected", member, reason="Duplicate of 7000001", confirm="1"))

    assert list(Member.objects.all()) == [other]
    assert Member.all_objects.get(pk=member.pk).deleted_at is not None
    event = member.events.order_by("pgh_id").last()
    assert event.deleted_at is not None
    assert event.pgh_context["reason"] == "Duplicate of 7000001"


def test_member_soft_delete_action_reports_the_count(admin_client):
    members = MemberFactory.create_batch(2)

    response = admin_client.post(
        MEMBERS, action("soft_delete_selected", *members, reason="Left the Local", confirm="1"), follow=True
    )

    assert [str(message) for message in response.context["messages"]] == ["Soft-deleted 2 members."]


def test_member_soft_delete_action_without_reason_is_refused(admin_client):
    member = MemberFactory()

    response = admin_client.post(MEMBERS, action("soft_delete_selected", member, reason="", confirm="1"))

    assert response.context["form"].errors == {"reason": ["A reason is required."]}
    assert Member.objects.filter(pk=member.pk).exists()


def test_member_restore_action_brings_the_member_back(admin_client):
    member = MemberFactory()
    member.soft_delete(reason="by mistake")

    admin_client.post(
        f"{MEMBERS}?deleted=deleted", action("restore_selected", member, reason="Deleted by mistake", confirm="1")
    )

    assert Member.objects.filter(pk=member.pk).exists()
    assert member.events.order_by("pgh_id").last().pgh_context["reason"] == "Deleted by mistake"


def test_member_soft_delete_action_needs_the_delete_permission(client, make_user):
    # Officers may soft-delete members; staff may not (DOMAIN.md §5). Both see the admin only with is_staff.
    client.force_login(make_user("staff", is_staff=True))

    response = client.get(MEMBERS)

    assert response.context["action_form"] is None


def test_employment_is_current_is_read_only(admin_client):
    employment = MemberEmploymentFactory()

    response = admin_client.get(reverse("admin:members_memberemployment_change", args=[employment.pk]))

    assert "is_current" not in response.context["adminform"].form.fields
    assert "is_current" in response.context["adminform"].readonly_fields


def test_employment_delete_selected_deletes_row_by_row_with_attachments(admin_client):
    employment = MemberEmploymentFactory()
    attachment = AttachmentFactory(target_obj=employment)

    admin_client.post(EMPLOYMENTS, action("delete_selected", employment, post="yes"))

    assert not MemberEmployment.objects.filter(pk=employment.pk).exists()
    assert Attachment.all_objects.get(pk=attachment.pk).deleted_at is not None
    assert employment.events.get(pgh_label="delete").member_id == employment.member_id


def test_employment_change_form_shows_the_member_read_only(admin_client):
    job = MemberEmploymentFactory()
    page = admin_client.get(reverse("admin:members_memberemployment_change", args=[job.pk])).content.decode()
    add_page = admin_client.get(reverse("admin:members_memberemployment_add")).content.decode()

    assert 'name="member"' not in page
    assert 'name="member"' in add_page
