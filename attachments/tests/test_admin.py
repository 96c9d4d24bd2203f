"""Admin of attachments: query budget, no uploads here, downloads through the portal, soft delete."""

import pytest
from django.urls import reverse

from attachments.factories import AttachmentFactory
from attachments.models import Attachment, AttachmentCategory
from members.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("admin", is_staff=True))
    return client


def test_attachment_changelist_within_query_budget(admin_client, django_assert_max_num_queries):
    for member in MemberFactory.create_batch(30):
        AttachmentFactory(target_obj=member)

    # session, user, user and group permissions, count probe, count, page (content types and uploaders
    # joined), session renewal (3) + 1 spare
    with django_assert_max_num_queries(11):
        response = admin_client.get(reverse("admin:attachments_attachment_changelist"))

    assert len(response.context["cl"].result_list) == 30


def test_attachments_cannot_be_added_in_the_admin(admin_client):
    response = admin_client.get(reverse("admin:attachments_attachment_add"))

    assert response.status_code == 403


def test_attachment_change_page_links_the_download_view_and_offers_the_targets_categories(admin_client):
    attachment = AttachmentFactory()

    response = admin_client.get(reverse("admin:attachments_attachment_change", args=[attachment.pk]))

    form = response.context["adminform"].form
    assert set(form.fields) == {"category", "description"}
    assert AttachmentCategory.CONTRACTS not in [value for value, _ in form.fields["category"].choices]
    assert reverse("attachments:attachment_download", args=[attachment.pk]) in response.text


def test_attachment_soft_delete_keeps_the_row(admin_client):
    attachment = AttachmentFactory()

    admin_client.post(
        reverse("admin:attachments_attachment_delete", args=[attachment.pk]), {"reason": "Wrong file", "confirm": "1"}
    )

    assert not Attachment.objects.filter(pk=attachment.pk).exists()
    assert Attachment.all_objects.get(pk=attachment.pk).deleted_at is not None
