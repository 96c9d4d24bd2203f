"""The shared admin machinery: site, registrations, soft delete and restore pages, exports, imports, counts."""

from urllib.parse import quote

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from import_export.formats.base_formats import CSV

from audit.models import AccessAction, AccessLog
from ip2a.admin import SoftDeleteAdmin
from ip2a.pagination import EstimatedCountPaginator
from members.factories import MemberFactory
from members.models import Member

pytestmark = pytest.mark.django_db

DOMAIN_APPS = ("organizations", "members", "training", "audit", "attachments")
DOMAIN_MODELS = [
    model for app in DOMAIN_APPS for model in apps.get_app_config(app).get_models() if not model._meta.proxy
]


@pytest.fixture
def admin_user(make_user):
    return make_user("admin", is_staff=True)  # sync_roles keeps is_staff equal to the admin role


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def changelist_url(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_admin_index_shows_the_site_header(admin_client):
    response = admin_client.get(reverse("admin:index"))

    assert response.context["site_header"] == "IP2A administration"


def test_admin_index_sends_staff_role_to_the_admin_login(role_client):
    response = role_client("staff").get(reverse("admin:index"))

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={quote(reverse('admin:index'))}"


@pytest.mark.parametrize("model", DOMAIN_MODELS, ids=lambda model: model._meta.label)
def test_every_domain_model_is_registered(model):
    assert admin.site.is_registered(model)


@pytest.mark.parametrize(
    "model", [*DOMAIN_MODELS, apps.get_model("pghistory", "Events")], ids=lambda model: model._meta.label
)
def test_every_changelist_renders_for_the_admin_role(admin_client, model):
    response = admin_client.get(changelist_url(model))

    assert response.status_code == 200


@pytest.mark.parametrize(
    "model",
    [model for model, model_admin in admin.site._registry.items() if isinstance(model_admin, SoftDeleteAdmin)],
    ids=lambda model: model._meta.label,
)
def test_soft_delete_admins_offer_soft_delete_and_restore_but_not_delete_selected(admin_client, model):
    response = admin_client.get(changelist_url(model))

    actions = [name for name, _ in response.context["action_form"].fields["action"].choices if name]
    assert actions == ["soft_delete_selected", "restore_selected"]


def test_delete_page_asks_for_a_reason(admin_client):
    member = MemberFactory()

    response = admin_client.get(reverse("admin:members_member_delete", args=[member.pk]))

    assert [t.name for t in response.templates][0] == "admin/reason_confirmation.html"
    assert list(response.context["objects"]) == [member]


def test_delete_page_soft_deletes_with_the_reason(admin_client):
    member = MemberFactory()

    response = admin_client.post(
        reverse("admin:members_member_delete", args=[member.pk]), {"reason": "Entered twice", "confirm": "1"}
    )

    assert response["Location"] == reverse("admin:members_member_changelist")
    assert not Member.objects.filter(pk=member.pk).exists()
    event = member.events.order_by("pgh_id").last()
    assert event.deleted_at is not None
    assert event.pgh_context["reason"] == "Entered twice"
    assert event.pgh_context["source"] == "admin"


def test_delete_page_refuses_a_blank_reason(admin_client):
    member = MemberFactory()

    response = admin_client.post(
        reverse("admin:members_member_delete", args=[member.pk]), {"reason": "  ", "confirm": "1"}
    )

    assert response.context["form"].errors == {"reason": ["A reason is required."]}
    assert Member.objects.filter(pk=member.pk).exists()


def test_restore_page_restores_with_the_reason(admin_client):
    member = MemberFactory()
    member.soft_delete(reason="by mistake")

    response = admin_client.post(
        reverse("admin:members_member_restore", args=[member.pk]), {"reason": "Deleted by mistake", "confirm": "1"}
    )

    assert response["Location"] == reverse("admin:members_member_change", args=[member.pk])
    assert Member.objects.filter(pk=member.pk).exists()
    assert member.events.order_by("pgh_id").last().pgh_context["reason"] == "Deleted by mistake"


def test_deleted_row_is_read_only_with_a_restore_link(admin_client):
    member = MemberFactory()
    member.soft_delete(reason="left the Local")

    response = admin_client.get(reverse("admin:members_member_change", args=[member.pk]))

    assert response.context["has_change_permission"] is False
    assert response.context["restore_url"] == reverse("admin:members_member_restore", args=[member.pk])


def test_change_page_links_the_rows_history(admin_client):
    member = MemberFactory()

    response = admin_client.get(reverse("admin:members_member_change", args=[member.pk]))

    history_url = f"{changelist_url(Member.pgh_event_model)}?obj=members.Member:{member.pk}"
    assert history_url in response.text


def test_history_changelist_of_one_row_lists_its_events(admin_client):
    member = MemberFactory()
    member.soft_delete(reason="moved away")

    response = admin_client.get(changelist_url(Member.pgh_event_model), {"obj": f"members.Member:{member.pk}"})

    assert [event.pgh_label for event in response.context["cl"].result_list] == ["update", "insert"]


def test_autocomplete_never_offers_deleted_rows(admin_client):
    live = MemberFactory(last_name="Zeller")
    MemberFactory(last_name="Zeller").soft_delete(reason="duplicate")

    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "members", "model_name": "memberemployment", "field_name": "member", "term": "Zel"},
    )

    assert [result["id"] for result in response.json()["results"]] == [str(live.pk)]


@pytest.mark.parametrize(("choice", "expected"), [(None, ["live"]), ("deleted", ["gone"]), ("all", ["gone", "live"])])
def test_deleted_filter_shows_live_rows_by_default(admin_client, choice, expected):
    MemberFactory(last_name="live")
    MemberFactory(last_name="gone").soft_delete(reason="test")

    response = admin_client.get(changelist_url(Member), {"deleted": choice} if choice else {})

    assert sorted(member.last_name for member in response.context["cl"].result_list) == expected


def test_export_is_written_to_the_access_log(admin_client):
    MemberFactory.create_batch(3)

    response = admin_client.post(
        reverse("admin:members_member_export"),
        {
            "format": "0",
            "resource": "0",
            **{f"memberresource_{name}": "on" for name in ("member_number", "last_name")},
        },
    )

    assert response["Content-Type"].startswith("text/csv")
    entry = AccessLog.objects.get()
    assert (entry.action, entry.row_count, entry.username) == (AccessAction.EXPORT, 3, "admin-user")


def test_admin_import_records_history_with_source_import(admin_client):
    csv = "member_number,first_name,last_name,status,classification\n7500001,Ana,Ruiz,active,journeyman\n"
    formats = admin.site._registry[Member].get_import_formats()
    upload = SimpleUploadedFile("roster.csv", csv.encode(), content_type="text/csv")

    preview = admin_client.post(
        reverse("admin:members_member_import"),
        {"resource": "0", "format": str(formats.index(CSV)), "import_file": upload},
    )
    admin_client.post(reverse("admin:members_member_process_import"), preview.context["confirm_form"].initial)

    member = Member.objects.get(member_number="7500001")
    context = member.events.get(pgh_label="insert").pgh_context
    assert (context["source"], context["reason"]) == ("import", "admin import of roster.csv")


def admin_import_preview(admin_client, csv_text: str):
    formats = admin.site._registry[Member].get_import_formats()
    upload = SimpleUploadedFile("roster.csv", csv_text.encode(), content_type="text/csv")
    return admin_client.post(
        reverse("admin:members_member_import"),
        {"resource": "0", "format": str(formats.index(CSV)), "import_file": upload},
    )


def test_admin_import_refuses_a_member_number_given_twice_in_one_file(admin_client):
    csv = (
        "member_number,first_name,last_name,status,classification\n"
        "7500001,Ana,Ruiz,active,journeyman\n"
        "7500001,Ben,Cho,active,journeyman\n"
    )

    response = admin_import_preview(admin_client, csv)

    result = response.context["result"]
    assert [row.import_type for row in result.rows] == ["new", "invalid"]
    assert result.invalid_rows[0].error_dict == {
        "member_number": ["member_number 7500001 is on row 2 too; give each once."]
    }
    assert "confirm_form" not in response.context or response.context["confirm_form"] is None
    assert not Member.objects.exists()


def test_admin_import_shows_a_database_refusal_with_the_constraints_message(admin_client):
    csv = "member_number,first_name,last_name,status,classification\nABC,Ana,Ruiz,active,journeyman\n"

    response = admin_import_preview(admin_client, csv)

    [row] = response.context["result"].invalid_rows
    assert row.error.messages == ["A member number is 5 to 10 digits, with at most one letter before or after."]
    assert not Member.objects.exists()


def test_estimated_count_paginator_counts_small_results_exactly():
    MemberFactory.create_batch(3)

    assert EstimatedCountPaginator(Member.objects.all(), 2).count == 3


def test_estimated_count_paginator_never_counts_a_large_result(monkeypatch):
    MemberFactory.create_batch(12)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE members_member")
    monkeypatch.setattr(EstimatedCountPaginator, "exact_below", 5)

    with CaptureQueriesContext(connection) as queries:
        count = EstimatedCountPaginator(Member.objects.all(), 2).count

    assert count == 12
    assert not any("COUNT(" in query["sql"] for query in queries.captured_queries)


def test_history_event_page_is_read_only(admin_client):
    event = MemberFactory().events.get()

    response = admin_client.get(reverse("admin:members_memberevent_change", args=[event.pk]))

    assert response.context["has_change_permission"] is False
    assert response.context["has_delete_permission"] is False


def test_import_needs_the_add_and_change_permissions(client, make_user):
    user = make_user(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_member", "change_member"]))
    client.force_login(user)

    response = client.get(reverse("admin:members_member_import"))

    assert response.status_code == 403


def test_import_is_refused_for_export_only_resources(admin_client):
    response = admin_client.get(reverse("admin:training_enrollment_import"))

    assert response.status_code == 403
