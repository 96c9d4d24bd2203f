import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command

from ip2a.roles import ROLE_NAMES, ROLES, role_permissions, sync_roles

pytestmark = pytest.mark.django_db


def codenames(group):
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_migrate_creates_the_six_roles():
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLE_NAMES)


@pytest.mark.parametrize("role", [role for role in ROLE_NAMES if role != "admin"])
def test_each_role_holds_exactly_the_existing_permissions_of_its_table_row(role):
    existing = {f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")}

    assert codenames(Group.objects.get(name=role)) == ROLES[role] & existing


def test_admin_role_holds_every_user_management_permission():
    held = codenames(Group.objects.get(name="admin"))

    assert {"auth.add_user", "auth.change_user", "auth.change_group"} <= held


def test_read_only_and_instructor_never_change_membership():
    for role in ("read_only", "instructor"):
        assert not {name for name in ROLES[role] if name.startswith("members.")} - {
            "members.view_member",
            "members.view_memberemployment",
        }
    assert not {name for name in ROLES["instructor"] if name.startswith("members.")}


def test_sync_repairs_hand_edited_groups_and_is_idempotent():
    staff = Group.objects.get(name="staff")
    staff.permissions.add(Permission.objects.get(codename="delete_user"))
    Group.objects.get(name="officer").delete()

    sync_roles()
    sync_roles()

    assert "auth.delete_user" not in codenames(staff)
    assert Group.objects.filter(name="officer").count() == 1


def test_is_staff_follows_membership_of_the_admin_role(make_user):
    admin = make_user("admin", username="ada")
    clerk = make_user("staff", username="sam", is_staff=True)
    root = User.objects.create_superuser("root", password="x-long-password")

    sync_roles()

    assert User.objects.get(pk=admin.pk).is_staff is True
    assert User.objects.get(pk=clerk.pk).is_staff is False
    root.refresh_from_db()
    assert root.is_staff is True
    assert root.groups.filter(name="admin").exists()


def test_sync_roles_command_reports_each_role(capsys):
    call_command("sync_roles")

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("sync_roles: environment ")
    assert [line.split()[0] for line in lines[1:7]] == list(ROLE_NAMES)
    assert lines[7].startswith("6 roles in sync; is_staff follows the admin role (")


def test_role_permissions_reports_names_not_available_yet():
    granted, missing = role_permissions("read_only")

    assert {f"{p.content_type.app_label}.{p.codename}" for p in granted} | set(missing) == ROLES["read_only"]


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_every_permission_the_role_table_names_exists(role):
    _, missing = role_permissions(role)

    assert missing == []


def test_custom_permissions_of_domain_md_exist():
    custom = {
        "members.convert_student",
        "members.export_member",
        "organizations.change_salting",
        "organizations.export_organization",
        "training.export_student",
        "training.take_attendance",
        "attachments.download_attachment",
        "audit.view_history",
        "audit.view_global_log",
        "audit.export_history",
        "audit.view_accesslog",
    }
    existing = {f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")}

    assert custom <= existing
