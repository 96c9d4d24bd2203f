"""The six roles of DOMAIN.md §5 as Django groups: the one table both `sync_roles` and post_migrate read.

Each role lists permissions as "app_label.codename". A permission whose model does not exist yet is
skipped (and reported by `sync_roles`), so the table can name the whole domain before every app has
its models.
"""

from django.contrib.auth.models import Group, Permission, User
from django.db import transaction

ADMIN = "admin"
OFFICER = "officer"
STAFF = "staff"
ORGANIZER = "organizer"
INSTRUCTOR = "instructor"
READ_ONLY = "read_only"
ROLE_NAMES = (ADMIN, OFFICER, STAFF, ORGANIZER, INSTRUCTOR, READ_ONLY)

ROLE_LABELS = {
    ADMIN: "Administrator",
    OFFICER: "Officer",
    STAFF: "Office staff",
    ORGANIZER: "Organizer",
    INSTRUCTOR: "Instructor",
    READ_ONLY: "Read only",
}

MEMBERSHIP = {"members.member", "members.memberemployment"}
ORGANIZATIONS = {"organizations.organization", "organizations.organizationcontact"}
TRAINING_SETUP = {"training.instructor", "training.location", "training.cohort", "training.cohortinstructor"}
SESSIONS = {"training.classsession"}
RECORDS = {"training.attendance", "training.credential"}
STUDENTS = {"training.student", "training.enrollment", "training.jatcapplication"}
TRAINING = TRAINING_SETUP | SESSIONS | RECORDS | STUDENTS
ATTACHMENTS = {"attachments.attachment"}


def perms(actions: str, models: set[str]) -> set[str]:
    """Expand e.g. perms("view add", {"members.member"}) to {"members.view_member", "members.add_member"}."""
    result = set()
    for model in models:
        app_label, model_name = model.split(".")
        result |= {f"{app_label}.{action}_{model_name}" for action in actions.split()}
    return result


ROLES: dict[str, set[str]] = {
    # Everything in the portal, the audit pages and the Django admin (users and groups included).
    ADMIN: {"*"},
    OFFICER: perms("view", MEMBERSHIP | ORGANIZATIONS | TRAINING | ATTACHMENTS)
    | perms("add change", MEMBERSHIP)
    | {"members.delete_member", "members.delete_memberemployment"}
    | perms("add change delete", ORGANIZATIONS)
    | perms("add change delete", ATTACHMENTS)
    | {
        "members.convert_student",
        "members.export_member",
        "organizations.change_salting",
        "organizations.export_organization",
        "training.export_student",
        "attachments.download_attachment",
        "audit.view_history",
        "audit.view_global_log",
        "audit.export_history",
    },
    STAFF: perms("view", MEMBERSHIP | ORGANIZATIONS | TRAINING | ATTACHMENTS)
    | perms("add change", MEMBERSHIP)
    | {"members.delete_memberemployment"}
    | perms("add change delete", ORGANIZATIONS | TRAINING | ATTACHMENTS)
    | {
        "members.convert_student",
        "members.export_member",
        "organizations.export_organization",
        "training.export_student",
        "training.take_attendance",
        "attachments.download_attachment",
        "audit.view_history",
    },
    # Attachments only on organizations; the views check the target.
    ORGANIZER: perms("view", MEMBERSHIP | ORGANIZATIONS | ATTACHMENTS)
    | perms("add change", ORGANIZATIONS)
    | perms("add change delete", ATTACHMENTS)
    | {
        "organizations.change_salting",
        "organizations.export_organization",
        "attachments.download_attachment",
        "audit.view_history",
    },
    # Only their own cohorts, those cohorts' sessions and students; the views check the objects.
    INSTRUCTOR: perms("view", TRAINING | ATTACHMENTS)
    | perms("add change delete", SESSIONS)
    | perms("add change", RECORDS)
    | perms("add change delete", ATTACHMENTS)
    | {"training.take_attendance", "attachments.download_attachment"},
    READ_ONLY: perms("view", MEMBERSHIP | ORGANIZATIONS | TRAINING | ATTACHMENTS),
}

# Apps whose every permission the admin role holds ("*").
ADMIN_APPS = ("auth", "organizations", "members", "training", "audit", "attachments", "pghistory")


def role_permissions(role: str) -> tuple[list[Permission], list[str]]:
    """Return (the Permission rows the role gets, the table's codenames that do not exist yet)."""
    wanted = ROLES[role]
    if wanted == {"*"}:
        return list(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS)), []
    found = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in Permission.objects.values_list("pk", "content_type__app_label", "codename")
    }
    missing = sorted(name for name in wanted if name not in found)
    return list(Permission.objects.filter(pk__in=[found[name] for name in wanted if name in found])), missing


@transaction.atomic
def sync_roles() -> dict[str, list[str]]:
    """Create the role groups, set each one's permissions exactly as the table says, put superusers in the
    admin role, and keep ``is_staff`` equal to membership of the admin role (the Django admin needs it).

    Returns the permissions each role names that do not exist yet.
    """
    missing = {}
    for role in ROLE_NAMES:
        group, _ = Group.objects.get_or_create(name=role)
        permissions, missing[role] = role_permissions(role)
        group.permissions.set(permissions)
    admin_group = Group.objects.get(name=ADMIN)
    admin_group.user_set.add(*User.objects.filter(is_superuser=True).exclude(groups=admin_group))
    admins = User.objects.filter(groups=admin_group)
    User.objects.filter(is_staff=False, pk__in=admins).update(is_staff=True)
    User.objects.filter(is_staff=True).exclude(pk__in=admins).update(is_staff=False)
    return missing


def user_roles(user) -> list[str]:
    """Return the role names the user holds, in the table's order (read through ip2a.auth.grants, which keeps
    them per user and change of the role tables)."""
    from ip2a.auth import grants

    names = grants(user).roles
    return [role for role in ROLE_NAMES if role in names]
