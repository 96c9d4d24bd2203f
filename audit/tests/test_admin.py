"""Admin of the audit records: read-only access log and command runs, user history."""

import pytest
from django.urls import reverse

from audit.factories import AccessLogFactory, CommandRunFactory
from audit.models import AccessAction, AccessLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("admin", is_staff=True))
    return client


def test_access_log_changelist_within_query_budget(admin_client, django_assert_max_num_queries):
    AccessLogFactory.create_batch(30)

    # session, user, user and group permissions, users for the user filter, count probe, count, page (content
    # types joined), session renewal (3) + 1 spare
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:audit_accesslog_changelist"))

    assert len(response.context["cl"].result_list) == 30


def test_access_log_filters_by_action(admin_client):
    AccessLogFactory(action=AccessAction.VIEW)
    export = AccessLogFactory(action=AccessAction.EXPORT)

    response = admin_client.get(reverse("admin:audit_accesslog_changelist"), {"action__exact": "export"})

    assert list(response.context["cl"].result_list) == [export]


def test_access_log_cannot_be_added(admin_client):
    response = admin_client.get(reverse("admin:audit_accesslog_add"))

    assert response.status_code == 403


def test_access_log_entry_cannot_be_changed(admin_client):
    entry = AccessLogFactory(object_repr="Member 7000001")

    response = admin_client.post(
        reverse("admin:audit_accesslog_change", args=[entry.pk]), {"object_repr": "nothing to see"}
    )

    assert response.status_code == 403
    assert AccessLog.objects.get(pk=entry.pk).object_repr == "Member 7000001"


def test_access_log_entry_cannot_be_deleted(admin_client):
    entry = AccessLogFactory()

    response = admin_client.post(reverse("admin:audit_accesslog_delete", args=[entry.pk]), {"post": "yes"})

    assert response.status_code == 403


def test_command_run_is_shown_read_only(admin_client):
    run = CommandRunFactory()

    response = admin_client.get(reverse("admin:audit_commandrun_change", args=[run.pk]))

    assert response.context["has_change_permission"] is False


def test_user_history_lists_role_changes(admin_client, make_user):
    make_user("officer", username="ana")

    response = admin_client.get(reverse("admin:audit_usergroupevent_changelist"))

    assert [(str(event.user), str(event.group)) for event in response.context["cl"].result_list] == [
        ("ana", "officer"),
        ("admin-user", "admin"),
    ]
