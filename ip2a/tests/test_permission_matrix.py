"""The permission matrix (DOMAIN.md §5): every URL pattern, walked from the resolver, against anonymous and each of
the six roles, for GET, for the POST of every page that takes one, and for the export of every exportable list.

Each pattern's expectation lives in EXPECTED, keyed by URL name (the route for the admin's unnamed patterns); a
pattern without one fails, so a new page cannot skip the matrix. Expectations follow the role table in
ip2a/roles.py through the permissions each page needs (``need``); sample URLs point at real rows of one world built
once per module, in the instructor's own cohort, so an outcome is a real 200, 400 or 403, never a 404 for a
made-up id. Every POST also checks what it wrote: a refused or invalid one leaves every domain table untouched,
a successful action writes. The Django admin's pages are checked for every principal in one test per page (one
gate guards them all). The object-level rules (an instructor and another cohort's rows, who may download which
file) are tested at the end.
"""

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import storages
from django.db import connection, transaction
from django.http import QueryDict
from django.test import Client
from django.urls import resolve, reverse

from attachments.factories import PDF_BYTES, AttachmentFactory
from attachments.models import Attachment
from audit.factories import AccessLogFactory, CommandRunFactory
from audit.models import AccessAction, AccessLog, LoginFailure
from ip2a.roles import ADMIN, INSTRUCTOR, OFFICER, ORGANIZER, READ_ONLY, ROLE_NAMES, ROLES, STAFF
from ip2a.tests.test_urls import ALL_URLS
from members.factories import MemberEmploymentFactory, MemberFactory
from organizations.factories import OrganizationContactFactory, OrganizationFactory
from training.factories import (
    AttendanceFactory,
    ClassSessionFactory,
    CohortFactory,
    CohortInstructorFactory,
    CredentialFactory,
    EnrollmentFactory,
    InstructorFactory,
    JATCApplicationFactory,
    LocationFactory,
    StudentFactory,
)
from training.models import ClassSession

pytestmark = pytest.mark.django_db

ANONYMOUS = "anonymous"
PRINCIPALS = (ANONYMOUS, *ROLE_NAMES)
GET, POST, EXPORT = "GET", "POST", "EXPORT"  # EXPORT: the list's GET with ?export=csv
PORTAL_LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
# Tables a request may write without changing the domain: the session and the access log (reads are logged).
NOT_DOMAIN_TABLES = ("django_session", "audit_accesslog")


# --- Outcomes ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one request must answer: the status, for a redirect its target, and whether it writes domain rows."""

    label: str
    status: int
    location: object = None  # a redirect's target: a URL, or a function of the world returning one
    writes: bool = False

    def __str__(self):
        return self.label


OK = Outcome("ok", 200)
FORBIDDEN = Outcome("forbidden", 403)
LOGIN = Outcome("login", 302)  # to the login page, with ?next= the page asked for
INVALID = Outcome("form errors", 400)  # an empty POST refused by the page's form: nothing written
NOT_ALLOWED = Outcome("method not allowed", 405)
NOT_FOUND = Outcome("not found", 404)


def redirect(location, *, writes: bool = False) -> Outcome:
    return Outcome(f"redirect to {location if isinstance(location, str) else 'the record'}", 302, location, writes)


def page_of(key: str):
    """The record page of a world row, as a redirect target."""
    return lambda world: getattr(world, key).get_absolute_url()


# --- Rules: the outcome for each role, from the permissions the role table gives it -------------------------


def has(role: str, *permissions: str) -> bool:
    grants = ROLES[role]
    return grants == {"*"} or set(permissions) <= grants


def need(*permissions: str, ok: Outcome = OK):
    """``ok`` for roles holding every permission, 403 for the others (anonymous: the login page)."""
    return lambda role: ok if has(role, *permissions) else FORBIDDEN


def need_any(*permissions: str, ok: Outcome = OK):
    return lambda role: ok if any(has(role, permission) for permission in permissions) else FORBIDDEN


def everyone(outcome: Outcome):
    return lambda role: outcome


def history_tab(change_permission: str):
    """DOMAIN.md §5: the global-log permission on every record, or the history permission on records whose model
    the role may change."""
    return lambda role: (
        OK if has(role, "audit.view_global_log") or has(role, "audit.view_history", change_permission) else FORBIDDEN
    )


def admin_only(outcome: Outcome):
    """The Django admin: the admin role (is_staff); every other role is sent to the admin's login page."""
    return lambda role: outcome if role == ADMIN else LOGIN


@dataclass(frozen=True)
class Page:
    """One URL pattern's expectations. ``sample`` gives the URL's kwargs from the world; ``get``, ``post`` and
    ``export`` map a role to its outcome (None: the page takes no POST / has no export); ``anonymous`` is the
    outcome without login (the login page for every non-public page)."""

    get: object
    post: object = None
    export: object = None
    sample: object = None
    query: str = ""
    anonymous: dict = field(default_factory=dict)

    def rule(self, method: str):
        return {GET: self.get, POST: self.post, EXPORT: self.export}[method]

    def expected(self, method: str, principal: str) -> Outcome:
        if principal == ANONYMOUS:
            return self.anonymous.get(method, LOGIN)
        return self.rule(method)(principal)


def pk(key: str):
    return lambda world: {"pk": getattr(world, key).pk}


def view(*permissions, sample=None, export=None, query=""):
    """A read-only page (GET only): ok for roles with ``permissions``; ``export`` the list's export permission."""
    return Page(
        get=need(*permissions),
        export=need(*permissions, export) if export else None,
        sample=sample,
        query=query,
    )


def form(*permissions, sample=None, post=None):
    """A page with a form: GET shows it; an empty POST is refused by the form (400) unless ``post`` says what a
    permitted role gets instead."""
    return Page(get=need(*permissions), post=need(*permissions, ok=post or INVALID), sample=sample)


def action(*permissions, sample, then):
    """A POST-only button (make primary): GET is 405 for permitted roles, POST does it and redirects to ``then``."""
    return Page(
        get=need(*permissions, ok=NOT_ALLOWED),
        post=need(*permissions, ok=redirect(then, writes=True)),
        sample=sample,
    )


STUDENT_TARGET = "training.view_student"  # viewing a student, the target of the sample attachments

EXPECTED = {
    # --- project pages --------------------------------------------------------------------------------------
    "dashboard": Page(get=everyone(OK)),
    "search": Page(get=need_any("members.view_member", "training.view_student", "organizations.view_organization")),
    "healthz": Page(get=everyone(OK), anonymous={GET: OK}),
    "readyz": Page(get=everyone(OK), anonymous={GET: OK}),
    "login": Page(
        get=everyone(redirect("/")),
        post=everyone(redirect("/")),
        anonymous={GET: OK, POST: OK},  # an empty login form comes back with its errors
    ),
    "logout": Page(get=everyone(NOT_ALLOWED), post=everyone(redirect(PORTAL_LOGIN))),
    "password_change": Page(get=everyone(OK), post=everyone(OK)),  # Django's view: errors with a 200
    "password_change_done": Page(get=everyone(OK)),
    # Signed in: the admin role goes on to the admin, every other role is refused (no loop through the login).
    "admin_login": Page(
        get=lambda role: redirect("/admin/") if role == ADMIN else FORBIDDEN, anonymous={GET: redirect(PORTAL_LOGIN)}
    ),
    "members_import": form("members.add_member", "members.change_member"),
    "employments_import": form("members.add_memberemployment", "members.change_memberemployment"),
    "organizations_import": form("organizations.add_organization", "organizations.change_organization"),
    "contacts_import": form("organizations.add_organizationcontact", "organizations.change_organizationcontact"),
    "training_students_import": form("training.add_student", "training.change_student"),
    # --- members ----------------------------------------------------------------------------------------------
    "members:member_list": view("members.view_member", export="members.export_member"),
    "members:member_create": form("members.add_member"),
    "members:member_detail": view("members.view_member", sample=pk("member")),
    "members:member_update": form("members.change_member", sample=pk("member")),
    "members:member_status": form("members.change_member", sample=pk("member")),
    "members:member_delete": form("members.delete_member", sample=pk("member")),
    "members:member_restore": form("members.delete_member", sample=pk("deleted_member")),
    "members:member_history": Page(get=history_tab("members.change_member"), sample=pk("member")),
    "members:employment_create": form("members.add_memberemployment", sample=pk("member")),
    "members:employment_update": form("members.change_memberemployment", sample=pk("employment")),
    "members:employment_end": form("members.change_memberemployment", sample=pk("employment")),
    "members:employment_delete": form("members.delete_memberemployment", sample=pk("employment")),
    # --- organizations ------------------------------------------------------------------------------------------
    "organizations:organization_list": view(
        "organizations.view_organization", export="organizations.export_organization"
    ),
    "organizations:organization_create": form("organizations.add_organization"),
    "organizations:organization_detail": view("organizations.view_organization", sample=pk("organization")),
    "organizations:organization_update": form("organizations.change_organization", sample=pk("organization")),
    # Score and notes are both optional: an empty form is a valid one.
    "organizations:organization_salting": form(
        "organizations.view_organization",
        "organizations.change_salting",
        sample=pk("organization"),
        post=redirect(page_of("organization"), writes=True),
    ),
    "organizations:organization_delete": form("organizations.delete_organization", sample=pk("organization")),
    "organizations:organization_restore": form("organizations.delete_organization", sample=pk("deleted_organization")),
    "organizations:organization_history": Page(
        get=history_tab("organizations.change_organization"), sample=pk("organization")
    ),
    "organizations:contact_create": form("organizations.add_organizationcontact", sample=pk("organization")),
    "organizations:contact_list": view(
        "organizations.view_organizationcontact", export="organizations.export_organization"
    ),
    "organizations:contact_update": form("organizations.change_organizationcontact", sample=pk("contact")),
    "organizations:contact_make_primary": action(
        "organizations.change_organizationcontact", sample=pk("contact"), then=page_of("organization")
    ),
    "organizations:contact_delete": form("organizations.delete_organizationcontact", sample=pk("contact")),
    "organizations:contact_restore": form("organizations.delete_organizationcontact", sample=pk("deleted_contact")),
    # --- training: students, enrollments, credentials, JATC applications ----------------------------------------
    "training:student_list": view("training.view_student", export="training.export_student"),
    "training:student_create": form("training.add_student"),
    "training:student_detail": view("training.view_student", sample=pk("student")),
    "training:student_update": form("training.change_student", sample=pk("student")),
    "training:student_delete": form("training.delete_student", sample=pk("student")),
    "training:student_restore": form("training.delete_student", sample=pk("deleted_student")),
    "training:student_convert": form("members.convert_student", "training.view_student", sample=pk("student")),
    "training:student_history": Page(get=history_tab("training.change_student"), sample=pk("student")),
    "training:enrollment_create": form("training.add_enrollment", sample=pk("student")),
    "training:enrollment_update": form(  # every field of the form is optional
        "training.change_enrollment", sample=pk("enrollment"), post=redirect(page_of("student"), writes=True)
    ),
    # Starting needs nothing but the button; the other status changes need a date or a reason.
    "training:enrollment_start": form(
        "training.change_enrollment", sample=pk("enrollment"), post=redirect(page_of("student"), writes=True)
    ),
    "training:enrollment_complete": form("training.change_enrollment", sample=pk("enrollment")),
    "training:enrollment_drop": form("training.change_enrollment", sample=pk("enrollment")),
    "training:enrollment_withdraw": form("training.change_enrollment", sample=pk("enrollment")),
    "training:enrollment_defer": form("training.change_enrollment", sample=pk("enrollment")),
    "training:enrollment_delete": form("training.delete_enrollment", sample=pk("enrollment")),
    "training:credential_create": form("training.add_credential", sample=pk("student")),
    "training:credential_expiring": view("training.view_credential", export="training.export_student"),
    "training:credential_update": form("training.change_credential", sample=pk("credential")),
    "training:credential_renew": form(
        "training.add_credential", "training.change_credential", sample=pk("credential")
    ),
    "training:credential_delete": form("training.delete_credential", sample=pk("credential")),
    "training:jatcapplication_list": view("training.view_jatcapplication", export="training.export_student"),
    "training:jatcapplication_create": form("training.add_jatcapplication", sample=pk("student")),
    "training:jatcapplication_update": form("training.change_jatcapplication", sample=pk("application")),
    "training:jatcapplication_advance": form("training.change_jatcapplication", sample=pk("application")),
    "training:jatcapplication_delete": form("training.delete_jatcapplication", sample=pk("application")),
    # --- training: cohorts, assignments, sessions, instructors, locations ---------------------------------------
    "training:cohort_list": view("training.view_cohort", export="training.export_student"),
    "training:cohort_create": form("training.add_cohort"),
    "training:cohort_detail": view("training.view_cohort", sample=pk("cohort")),
    "training:cohort_update": form("training.change_cohort", sample=pk("cohort")),
    "training:cohort_status": form("training.change_cohort", sample=pk("cohort")),
    "training:cohort_cancel": form("training.change_cohort", sample=pk("cohort")),
    "training:cohort_delete": form("training.delete_cohort", sample=pk("cohort")),
    "training:cohort_restore": form("training.delete_cohort", sample=pk("deleted_cohort")),
    "training:cohort_history": Page(get=history_tab("training.change_cohort"), sample=pk("cohort")),
    "training:cohortinstructor_create": form("training.add_cohortinstructor", sample=pk("cohort")),
    "training:cohortinstructor_make_primary": action(
        "training.change_cohortinstructor", sample=pk("second_assignment"), then=page_of("cohort")
    ),
    "training:cohortinstructor_delete": form("training.delete_cohortinstructor", sample=pk("second_assignment")),
    "training:classsession_create": form("training.add_classsession", sample=pk("cohort")),
    "training:classsession_detail": view("training.view_classsession", sample=pk("session")),
    "training:classsession_update": form("training.change_classsession", sample=pk("session")),
    "training:classsession_delete": form("training.delete_classsession", sample=pk("session")),
    "training:session_attendance": form(
        "training.take_attendance", "training.add_attendance", "training.change_attendance", sample=pk("session")
    ),
    "training:instructor_list": view("training.view_instructor", export="training.export_student"),
    "training:instructor_create": form("training.add_instructor"),
    "training:instructor_detail": view("training.view_instructor", sample=pk("teacher")),
    "training:instructor_update": form("training.change_instructor", sample=pk("teacher")),
    "training:instructor_delete": form("training.delete_instructor", sample=pk("teacher")),
    "training:instructor_restore": form("training.delete_instructor", sample=pk("deleted_instructor")),
    "training:instructor_history": Page(get=history_tab("training.change_instructor"), sample=pk("teacher")),
    "training:location_list": view("training.view_location", export="training.export_student"),
    "training:location_create": form("training.add_location"),
    "training:location_detail": view("training.view_location", sample=pk("location")),
    "training:location_update": form("training.change_location", sample=pk("location")),
    "training:location_delete": form("training.delete_location", sample=pk("location")),
    "training:location_restore": form("training.delete_location", sample=pk("deleted_location")),
    "training:location_history": Page(get=history_tab("training.change_location"), sample=pk("location")),
    # --- audit --------------------------------------------------------------------------------------------------
    "audit:history_list": view("audit.view_global_log", export="audit.export_history"),
    "audit:accesslog_list": view("audit.view_accesslog", export="audit.view_accesslog"),
    # --- attachments (the samples hang off the instructor's own student: every role but the organizer's reaches
    # it; downloading also needs the download permission, which read_only lacks) ---------------------------------
    "attachments:attachment_files": view(
        "attachments.view_attachment",
        STUDENT_TARGET,
        sample=lambda world: {"app_label": "training", "model": "enrollment", "target_id": world.enrollment.pk},
    ),
    "attachments:attachment_upload": form(
        "attachments.add_attachment",
        STUDENT_TARGET,
        sample=lambda world: {"app_label": "training", "model": "student", "target_id": world.student.pk},
    ),
    "attachments:attachment_download": view(
        "attachments.download_attachment", STUDENT_TARGET, sample=pk("attachment")
    ),
    "attachments:attachment_delete": form("attachments.delete_attachment", STUDENT_TARGET, sample=pk("attachment")),
    "attachments:attachment_restore": form(
        "attachments.delete_attachment", STUDENT_TARGET, sample=pk("deleted_attachment")
    ),
}


# --- The Django admin: every registered model's pages, by the kind of admin DOMAIN.md gives it ---------------

# Soft-delete models: the Delete page soft-deletes with a reason; Restore brings a deleted row back.
ADMIN_SOFT_DELETE = (
    "organizations.organization",
    "organizations.organizationcontact",
    "members.member",
    "training.student",
    "training.instructor",
    "training.location",
    "training.cohort",
    "attachments.attachment",
)
# Owned hard rows: deleted for real, row by row.
ADMIN_OWNED = (
    "members.memberemployment",
    "training.enrollment",
    "training.attendance",
    "training.cohortinstructor",
    "training.classsession",
    "training.credential",
    "training.jatcapplication",
)
# Append-only records and history events: listed and viewed, never added or deleted.
ADMIN_READ_ONLY = (
    "audit.accesslog",
    "audit.commandrun",
    "audit.userevent",
    "audit.usergroupevent",
    "members.memberevent",
    "members.memberemploymentevent",
    "organizations.organizationevent",
    "organizations.organizationcontactevent",
    "training.studentevent",
    "training.instructorevent",
    "training.locationevent",
    "training.cohortevent",
    "training.cohortinstructorevent",
    "training.classsessionevent",
    "training.enrollmentevent",
    "training.attendanceevent",
    "training.credentialevent",
    "training.jatcapplicationevent",
    "attachments.attachmentevent",
    "pghistory.events",
)
ADMIN_AUTH = ("auth.user", "auth.group")
# Failed sign-ins: listed and viewed, never added or changed; deleting them lifts a login lockout.
ADMIN_DELETE_ONLY = ("audit.loginfailure",)
# The portal imports members, employments, organizations, contacts and students; the admin also imports the
# training program's people and places (training/resources.py). Workflow rows only export.
ADMIN_IMPORTABLE = (
    "members.member",
    "members.memberemployment",
    "organizations.organization",
    "organizations.organizationcontact",
    "training.student",
    "training.instructor",
    "training.location",
    "training.cohort",
)
ADMIN_EXPORTABLE = (*ADMIN_SOFT_DELETE, *ADMIN_OWNED, "audit.accesslog")


def admin_object(label: str, *, deleted: bool = False):
    """The URL kwarg of a row of ``label`` for its admin pages (a soft-deleted one for Restore)."""

    def sample(world):
        model = apps.get_model(label)
        if label == "pghistory.events":  # the union of every event table, keyed "<event model>:<event id>"
            event = apps.get_model("members.memberevent").objects.order_by("pk").first()
            return {"object_id": f"{event._meta.label}:{event.pk}"}
        rows = model._base_manager.order_by("pk")
        if label in ADMIN_SOFT_DELETE:
            rows = rows.filter(deleted_at__isnull=not deleted)
        return {"object_id": rows.values_list("pk", flat=True).first()}

    return sample


def admin_model_pages(label: str) -> dict:
    app_label, model_name = label.split(".")
    prefix = f"admin:{app_label}_{model_name}"
    writable = label not in ADMIN_READ_ONLY and label not in ADMIN_DELETE_ONLY
    row = admin_object(label)
    pages = {
        f"{prefix}_changelist": Page(get=admin_only(OK)),
        # Files are attached through the portal's upload page, which applies the upload rules (DOMAIN.md §7).
        f"{prefix}_add": Page(get=admin_only(OK if writable and label != "attachments.attachment" else FORBIDDEN)),
        f"{prefix}_change": Page(get=admin_only(OK), sample=row),
        f"{prefix}_delete": Page(get=admin_only(OK if label not in ADMIN_READ_ONLY else FORBIDDEN), sample=row),
        f"{prefix}_history": Page(get=admin_only(OK), sample=row),
        # The bare object URL forwards to the change page.
        f"admin/{app_label}/{model_name}/<path:object_id>/": Page(
            get=admin_only(redirect(lambda world: reverse(f"{prefix}_change", args=[row(world)["object_id"]]))),
            sample=row,
        ),
    }
    if label in ADMIN_SOFT_DELETE:
        pages[f"{prefix}_restore"] = Page(get=admin_only(OK), sample=admin_object(label, deleted=True))
    if label in ADMIN_EXPORTABLE:
        pages[f"{prefix}_export"] = Page(get=admin_only(OK))
    if label in ADMIN_EXPORTABLE and label != "audit.accesslog":
        importable = label in ADMIN_IMPORTABLE
        pages[f"{prefix}_import"] = Page(get=admin_only(OK if importable else FORBIDDEN))
        pages[f"{prefix}_process_import"] = Page(get=admin_only(NOT_ALLOWED))  # the confirmation is a POST
    if label == "auth.user":
        pages[f"{prefix}_password_change"] = Page(get=admin_only(OK), sample=lambda world: {"id": world.admin.pk})
    return pages


EXPECTED |= {
    "admin:index": Page(get=admin_only(OK)),
    "admin:app_list": Page(get=admin_only(OK), sample=lambda world: {"app_label": "members"}),
    "admin:autocomplete": Page(
        get=admin_only(OK), query="app_label=members&model_name=memberemployment&field_name=member"
    ),
    "admin:jsi18n": Page(get=admin_only(OK)),
    # Django's admin sends a user who is not staff from its logout page to its index (and so to the login page).
    "admin:logout": Page(get=lambda role: NOT_ALLOWED if role == ADMIN else redirect("/admin/")),
    "admin:password_change": Page(get=admin_only(OK)),
    "admin:password_change_done": Page(get=admin_only(OK)),
    "admin:view_on_site": Page(
        get=admin_only(redirect(lambda world: f"http://testserver{world.member.get_absolute_url()}")),
        sample=lambda world: {
            "content_type_id": ContentType.objects.get_for_model(world.member).pk,
            "object_id": world.member.pk,
        },
    ),
    # The admin's catch-all: no such admin page.
    "admin/(?P<url>.*)$": Page(get=admin_only(NOT_FOUND), sample=lambda world: {"url": "no-such-page/"}),
}
for _label in (*ADMIN_SOFT_DELETE, *ADMIN_OWNED, *ADMIN_READ_ONLY, *ADMIN_AUTH, *ADMIN_DELETE_ONLY):
    EXPECTED |= admin_model_pages(_label)


# --- The URL patterns -------------------------------------------------------------------------------------------


def pattern_key(path: str) -> str:
    """A pattern's key in EXPECTED: its URL name, or its route when it has none (the admin's object URLs)."""
    match = resolve(path)
    return match.view_name if match.url_name else match.route


PATTERNS = sorted({pattern_key(path): path for path, _name in ALL_URLS}.items())


def is_admin_site(key: str) -> bool:
    return key.startswith("admin:") or key.startswith("admin/")


def portal_cases():
    """(key, sample path, principal, method) for every portal pattern, principal and method the page takes."""
    cases = []
    for key, path in PATTERNS:
        if is_admin_site(key):
            continue
        page = EXPECTED.get(key)
        methods = [GET] + [method for method in (POST, EXPORT) if page is not None and page.rule(method)]
        cases += [(key, path, principal, method) for method in methods for principal in PRINCIPALS]
    return cases


PORTAL_CASES = portal_cases()
ADMIN_CASES = [(key, path) for key, path in PATTERNS if is_admin_site(key)]


def url_for(key: str, sample_path: str, page: Page, world) -> str:
    """The URL of the pattern with the page's sample kwargs (real rows of the world)."""
    match = resolve(sample_path)
    kwargs = page.sample(world) if page.sample else {}
    assert set(kwargs) == set(match.kwargs), (
        f"{key}: the sample gives {sorted(kwargs)}, the URL takes {sorted(match.kwargs)}"
    )
    if kwargs == match.kwargs:
        url = sample_path
    elif match.url_name:
        url = reverse(match.view_name, kwargs=kwargs)
    elif "(?P<" in match.route:  # an unnamed regex (the admin's catch-all): only its sample path is known
        url = sample_path.replace("".join(match.kwargs.values()), "".join(kwargs.values()))
    else:  # an unnamed route (the admin's object URLs): the values in place of its converters
        url = "/" + match.route
        for name, value in kwargs.items():
            url = url.replace(f"<path:{name}>", str(value)).replace(f"<int:{name}>", str(value))
    return f"{url}?{page.query}" if page.query else url


def login_locations(url: str, principal: str) -> set[str]:
    """Where a page sends a visitor who may not see it: the portal's login page, back to the page. An admin page
    sends a user without the admin role to the admin's login page (which forwards to the portal's); an
    anonymous visitor meets the login requirement first, except on the admin site's own pages."""
    query = QueryDict(mutable=True)
    query["next"] = url
    portal, admin = f"{PORTAL_LOGIN}?{query.urlencode(safe='/')}", f"{ADMIN_LOGIN}?{query.urlencode(safe='/')}"
    if not resolve(url.split("?")[0]).view_name.startswith("admin:"):
        return {portal}
    return {portal, admin} if principal == ANONYMOUS else {admin}


def domain_writes() -> dict:
    """Rows inserted, updated or deleted so far in this transaction, per table (sessions and the access log
    aside)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables "
            "WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 AND NOT relname = ANY(%s)",
            [list(NOT_DOMAIN_TABLES)],
        )
        return dict(cursor.fetchall())


# --- The world: one of each record, built once for the module ---------------------------------------------------


@pytest.fixture(scope="module")
def module_attachments_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("matrix-attachments")


def attachments_storage(folder):
    config = settings.STORAGES["attachments"]
    return storages.create_storage({**config, "OPTIONS": {**config.get("OPTIONS", {}), "location": folder}})


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, module_attachments_dir):
    """Users holding each role, and real rows for every sample URL; rolled back after the module."""
    with django_db_blocker.unblock(), transaction.atomic(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(Attachment._meta.get_field("file"), "storage", attachments_storage(module_attachments_dir))
        yield build_world()
        transaction.set_rollback(True)


def session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def build_world() -> SimpleNamespace:
    users = {}
    for role in ROLE_NAMES:
        users[role] = User.objects.create(username=f"matrix-{role}", is_staff=role == ADMIN)
        users[role].groups.add(Group.objects.get(name=role))

    organization = OrganizationFactory()
    OrganizationContactFactory(organization=organization, is_primary=True)
    contact = OrganizationContactFactory(organization=organization)  # not the primary one: make-primary works
    deleted_contact = OrganizationContactFactory(organization=organization)
    deleted_contact.soft_delete(reason="matrix")
    deleted_organization = OrganizationFactory()
    deleted_organization.soft_delete(reason="matrix")

    member = MemberFactory()
    employment = MemberEmploymentFactory(member=member, organization=organization)
    deleted_member = MemberFactory()
    deleted_member.soft_delete(reason="matrix")

    # The instructor role's own cohort (the matrix samples) and another cohort it does not teach.
    teacher = InstructorFactory(user=users[INSTRUCTOR])
    location = LocationFactory()
    cohort = CohortFactory(location=location)
    CohortInstructorFactory(cohort=cohort, instructor=teacher, is_primary=True)
    second_assignment = CohortInstructorFactory(cohort=cohort, is_primary=False)
    session = ClassSessionFactory(cohort=cohort, instructor=teacher)
    enrollment = EnrollmentFactory(cohort=cohort)
    student = enrollment.student
    other_cohort = CohortFactory(location=location)
    other_assignment = CohortInstructorFactory(cohort=other_cohort, is_primary=True)
    other_enrollment = EnrollmentFactory(cohort=other_cohort)
    other_student = other_enrollment.student

    deleted_student, deleted_instructor = StudentFactory(), InstructorFactory()
    deleted_location, deleted_cohort = LocationFactory(), CohortFactory(location=location)
    for row in (deleted_student, deleted_instructor, deleted_location, deleted_cohort):
        row.soft_delete(reason="matrix")

    deleted_attachment = AttachmentFactory(target_obj=student, original_name="removed.pdf")
    deleted_attachment.soft_delete(reason="matrix")
    return SimpleNamespace(
        users=users,
        sessions={role: session_of(user) for role, user in users.items()},
        admin=users[ADMIN],
        organization=organization,
        contact=contact,
        deleted_contact=deleted_contact,
        deleted_organization=deleted_organization,
        member=member,
        employment=employment,
        deleted_member=deleted_member,
        teacher=teacher,
        location=location,
        cohort=cohort,
        second_assignment=second_assignment,
        session=session,
        student=student,
        enrollment=enrollment,
        credential=CredentialFactory(student=student),
        application=JATCApplicationFactory(student=student),
        mark=AttendanceFactory(session=session, student=student),
        access_log=AccessLogFactory(),
        command_run=CommandRunFactory(),
        login_failure=LoginFailure.objects.create(username="someone", ip="192.0.2.1"),
        other_cohort=other_cohort,
        other_teacher=other_assignment.instructor,
        other_session=ClassSessionFactory(cohort=other_cohort, instructor=other_assignment.instructor),
        other_student=other_student,
        other_enrollment=other_enrollment,
        other_credential=CredentialFactory(student=other_student),
        other_application=JATCApplicationFactory(student=other_student),
        deleted_student=deleted_student,
        deleted_instructor=deleted_instructor,
        deleted_location=deleted_location,
        deleted_cohort=deleted_cohort,
        attachment=AttachmentFactory(target_obj=student),
        deleted_attachment=deleted_attachment,
        other_attachment=AttachmentFactory(target_obj=other_student),
        organization_attachment=AttachmentFactory(target_obj=organization),
        member_attachment=AttachmentFactory(target_obj=member),
    )


@pytest.fixture(autouse=True)
def _world_files(attachments_dir, monkeypatch, module_attachments_dir):
    """The world's stored files, in place of the empty folder each test gets (conftest.attachments_dir)."""
    monkeypatch.setattr(Attachment._meta.get_field("file"), "storage", attachments_storage(module_attachments_dir))


@pytest.fixture(scope="module")
def matrix_client():
    """One test client for the module: a new one would load the middleware (and scan the static files) again."""
    return Client()


def login_as(client, world, principal: str):
    """The client with the principal's session (logged in once per module, in the world's transaction)."""
    client.cookies.clear()
    if principal != ANONYMOUS:
        client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[principal]
    return client


def request(client, method: str, url: str):
    """GET, an empty POST, or the list's CSV export."""
    if method == POST:
        return client.post(url, {})
    if method == EXPORT:
        return client.get(url, {"export": "csv"})
    return client.get(url)


# --- The matrix -------------------------------------------------------------------------------------------------


def check(client, world, key: str, sample_path: str, principal: str, method: str) -> str:
    """Make one request of the matrix; return how the answer differs from the expectation ("" when it does not)."""
    page = EXPECTED[key]
    expected = page.expected(method, principal)
    url = url_for(key, sample_path, page, world)
    login_as(client, world, principal)
    before = domain_writes() if method == POST else None

    response = request(client, method, url)

    where, location = f"{method} {url} as {principal}", response.get("Location", "")
    if response.status_code != expected.status:
        return f"{where}: got {response.status_code} {location}, expected {expected}"
    asked = f"{url}?export=csv" if method == EXPORT else url
    if expected is LOGIN and location not in login_locations(asked, principal):
        return f"{where}: sent to {location}, expected the login page"
    if expected is not LOGIN and expected.location is not None:
        target = expected.location(world) if callable(expected.location) else expected.location
        if location != target:
            return f"{where}: sent to {location}, expected {target}"
    if before is not None:
        written = {table: rows - before.get(table, 0) for table, rows in domain_writes().items()}
        written = {table: rows for table, rows in written.items() if rows}
        if expected.writes and not written:
            return f"{where}: changed nothing"
        if not expected.writes and written:
            return f"{where}: wrote rows {written}"
    return ""


def test_every_pattern_is_walked():
    keys = {key for key, _path in PATTERNS}
    assert {"dashboard", "members:member_detail", "admin:index", "admin:members_member_change"} <= keys
    assert len(PATTERNS) == len(ALL_URLS)  # no two patterns share a key


def test_every_expectation_names_a_pattern():
    stale = sorted(set(EXPECTED) - {key for key, _path in PATTERNS})
    assert stale == [], f"EXPECTED names URL patterns that no longer exist: {stale}"


@pytest.mark.parametrize(
    ("key", "sample_path", "principal", "method"),
    PORTAL_CASES,
    ids=[f"{key}-{principal}-{method}" for key, _path, principal, method in PORTAL_CASES],
)
def test_portal_permission_matrix(matrix_client, world, key, sample_path, principal, method):
    assert key in EXPECTED, f"add an expectation for {key!r} ({sample_path}) to EXPECTED"

    assert check(matrix_client, world, key, sample_path, principal, method) == ""


@pytest.mark.parametrize(("key", "sample_path"), ADMIN_CASES, ids=[key for key, _path in ADMIN_CASES])
def test_admin_site_permission_matrix(matrix_client, world, key, sample_path):
    """The Django admin's pages, every principal in one test: one gate (AdminSite.admin_view) guards them all."""
    assert key in EXPECTED, f"add an expectation for {key!r} ({sample_path}) to EXPECTED"

    problems = [check(matrix_client, world, key, sample_path, principal, GET) for principal in PRINCIPALS]

    assert [problem for problem in problems if problem] == []


def test_admin_site_refuses_a_role_without_the_admin_instead_of_looping(matrix_client, world):
    """DOMAIN.md §5: a missing permission returns 403. The admin sends a logged-in user who is not staff to its
    login page; that page must refuse them rather than hand them to the portal's login, which sends a logged-in
    user straight back to the admin (a redirect loop in the browser)."""
    client = login_as(matrix_client, world, STAFF)

    response = client.get(reverse("admin:index"), follow=True)

    assert response.status_code == 403


# --- Object-level rules -----------------------------------------------------------------------------------------

# (page, the instructor's own row, a row of a cohort the instructor does not teach)
SCOPED_PAGES = [
    ("training:student_detail", "student", "other_student"),
    ("training:cohort_detail", "cohort", "other_cohort"),
    ("training:classsession_create", "cohort", "other_cohort"),
    ("training:classsession_detail", "session", "other_session"),
    ("training:classsession_update", "session", "other_session"),
    ("training:classsession_delete", "session", "other_session"),
    ("training:session_attendance", "session", "other_session"),
    ("training:credential_create", "student", "other_student"),
    ("training:credential_update", "credential", "other_credential"),
    ("training:credential_renew", "credential", "other_credential"),
    ("training:instructor_detail", "teacher", "other_teacher"),
]


@pytest.mark.parametrize(("name", "own", "other"), SCOPED_PAGES, ids=[name for name, _own, _other in SCOPED_PAGES])
def test_instructor_reaches_their_own_cohorts_rows_and_no_others(matrix_client, world, name, own, other):
    """DOMAIN.md §5 "own cohorts": another cohort's rows do not exist for an instructor (404), while office staff
    reach them (so the 404 is the scope, not a missing row)."""
    own_url, other_url = (reverse(name, args=[getattr(world, key).pk]) for key in (own, other))

    as_instructor = login_as(matrix_client, world, INSTRUCTOR)
    statuses = [as_instructor.get(own_url).status_code, as_instructor.get(other_url).status_code]
    statuses.append(login_as(matrix_client, world, STAFF).get(other_url).status_code)

    assert statuses == [200, 404, 200]


def test_instructor_cannot_delete_another_cohorts_session(matrix_client, world):
    client = login_as(matrix_client, world, INSTRUCTOR)

    response = client.post(reverse("training:classsession_delete", args=[world.other_session.pk]), {"reason": "x"})

    assert response.status_code == 404
    assert ClassSession.objects.filter(pk=world.other_session.pk).exists()


def test_instructor_deletes_a_session_of_their_own_cohort(matrix_client, world):
    client = login_as(matrix_client, world, INSTRUCTOR)

    response = client.post(reverse("training:classsession_delete", args=[world.session.pk]), {"reason": "moved"})

    assert response.status_code == 302
    assert response["Location"] == world.cohort.get_absolute_url()
    assert not ClassSession.objects.filter(pk=world.session.pk).exists()


# (list, the instructor's own row, a row of another cohort)
SCOPED_LISTS = [
    ("training:student_list", "student", "other_student"),
    ("training:cohort_list", "cohort", "other_cohort"),
    ("training:instructor_list", "teacher", "other_teacher"),
    ("training:jatcapplication_list", "application", "other_application"),
]


@pytest.mark.parametrize(("name", "own", "other"), SCOPED_LISTS, ids=[name for name, _own, _other in SCOPED_LISTS])
def test_instructor_lists_hold_their_own_cohorts_rows_only(matrix_client, world, name, own, other):
    client = login_as(matrix_client, world, INSTRUCTOR)

    listed = {row.pk for row in client.get(reverse(name)).context["object_list"]}

    assert (getattr(world, own).pk in listed, getattr(world, other).pk in listed) == (True, False)


def files_url(app_label: str, model: str, row, page: str = "attachment_files") -> str:
    return reverse(f"attachments:{page}", args=[app_label, model, row.pk])


def test_instructor_sees_the_files_of_their_own_cohorts_enrollments_only(matrix_client, world):
    """The attachment pages refuse a row out of reach (403, attachments.services) where the training pages hide it
    (404)."""
    client = login_as(matrix_client, world, INSTRUCTOR)

    own = client.get(files_url("training", "enrollment", world.enrollment))
    other = client.get(files_url("training", "enrollment", world.other_enrollment))

    assert (own.status_code, other.status_code) == (200, 403)


# (principal, attachment, status): DOMAIN.md §5 and §7 — download needs the download permission and the target
# within the role's reach; a soft-deleted attachment is for admins only.
DOWNLOADS = [
    (READ_ONLY, "attachment", 403),
    (READ_ONLY, "member_attachment", 403),
    (READ_ONLY, "organization_attachment", 403),
    (OFFICER, "member_attachment", 200),
    (ORGANIZER, "organization_attachment", 200),
    (ORGANIZER, "member_attachment", 403),
    (ORGANIZER, "attachment", 403),
    (INSTRUCTOR, "attachment", 200),
    (INSTRUCTOR, "other_attachment", 403),
    (INSTRUCTOR, "organization_attachment", 403),
    (ADMIN, "deleted_attachment", 200),
    (STAFF, "deleted_attachment", 403),
    (OFFICER, "deleted_attachment", 403),
]


@pytest.mark.parametrize(
    ("principal", "key", "status"), DOWNLOADS, ids=[f"{principal}-{key}" for principal, key, _status in DOWNLOADS]
)
def test_attachment_download_follows_the_role_and_target_rules(matrix_client, world, principal, key, status):
    attachment = getattr(world, key)
    client = login_as(matrix_client, world, principal)

    response = client.get(reverse("attachments:attachment_download", args=[attachment.pk]))

    assert response.status_code == status
    downloads = AccessLog.objects.filter(action=AccessAction.DOWNLOAD, target_id=attachment.pk)
    if status == 200:
        assert b"".join(response.streaming_content) == PDF_BYTES
        assert response["Content-Disposition"].startswith("attachment;")
        assert downloads.get().username == world.users[principal].username
    else:
        assert not downloads.exists()


def test_read_only_lists_files_it_may_not_download(matrix_client, world):
    client = login_as(matrix_client, world, READ_ONLY)

    listed = client.get(files_url("training", "enrollment", world.enrollment))
    download = client.get(reverse("attachments:attachment_download", args=[world.attachment.pk]))

    assert (listed.status_code, download.status_code) == (200, 403)


# (principal, target, status) of the upload page: organizers attach files to organizations only, instructors to
# their own students only.
UPLOADS = [
    (ORGANIZER, ("organizations", "organization", "organization"), 200),
    (ORGANIZER, ("members", "member", "member"), 403),
    (INSTRUCTOR, ("training", "student", "student"), 200),
    (INSTRUCTOR, ("training", "student", "other_student"), 403),
    (READ_ONLY, ("organizations", "organization", "organization"), 403),
]


@pytest.mark.parametrize(
    ("principal", "target", "status"), UPLOADS, ids=[f"{principal}-{target[2]}" for principal, target, _s in UPLOADS]
)
def test_upload_page_follows_the_role_and_target_rules(matrix_client, world, principal, target, status):
    app_label, model, key = target
    client = login_as(matrix_client, world, principal)

    response = client.get(files_url(app_label, model, getattr(world, key), page="attachment_upload"))

    assert response.status_code == status
