"""The dashboard at /: one panel per list behind it, each shown only to roles that may open that list.

Every number is a real query, linked to the filtered list it counts. Panel values are kept in the shared cache
per panel and role set (and per user where an instructor sees only their own cohorts), under a key that also
holds the data versions (ip2a.caching) of the history event tables of the models the panel reads. Every write
path (web, admin, imports, shell, raw SQL) goes through the history triggers, so any change to those models
moves the version and the next request recomputes the panel. The seed command disables the triggers, so
seeding and reset must clear the cache. The recent-activity panel is kept likewise, as HTML (recent_activity()).
"""

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Q, prefetch_related_objects
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.generic import TemplateView

from ip2a.auth import grants
from ip2a.caching import data_versions, database_scope, table_versions, tracked_tables, version_key
from ip2a.roles import user_roles
from members.models import Member, MemberClassification, MemberEmployment
from training.models import (
    OPEN_ENROLLMENT,
    Cohort,
    CohortInstructor,
    CohortStatus,
    Credential,
    CredentialStatus,
    Enrollment,
    EnrollmentStatus,
    Instructor,
    Student,
    limited_to_own_cohorts,
)

CACHE_SECONDS = 300  # a safety net: a write the triggers did not see (seed) shows within five minutes
EXPIRING_DAYS = 30
APPLICANT = "applicant"  # a student without any enrollment
# What an instructor's scope reads (own_cohort_ids): these move their training numbers too.
SCOPE_MODELS = (Instructor, CohortInstructor, Cohort, Enrollment)


@dataclass(frozen=True)
class Panel:
    """One dashboard panel: the permission that shows it, the models whose history moves its cached value, and
    whether an instructor's numbers are of their own cohorts only."""

    name: str
    permission: str
    models: tuple
    scoped: bool  # training numbers: an instructor's are of their own cohorts only

    def models_for(self, user) -> tuple:
        return self.models + SCOPE_MODELS if self.scoped and limited_to_own_cohorts(user) else self.models


def link(url_name: str, **params) -> str | None:
    """The URL of a named list with its filters, or None while that page does not exist yet."""
    try:
        url = reverse(url_name)
    except NoReverseMatch:
        return None
    return f"{url}?{urlencode(params)}" if params else url


def cache_key(panel: Panel, user, versions: dict) -> str:
    """database + panel + role set (+ user id when limited to own cohorts) + the data version + today (dates
    move). The database's scope keeps apart deployments or test runs sharing one cache, whose versions can match."""
    roles = user_roles(user) + (["superuser"] if user.is_superuser else [])
    parts = ["dashboard", database_scope(), panel.name, "+".join(roles) or "none"]
    if panel.scoped and limited_to_own_cohorts(user):
        parts.append(f"user{user.pk}")
    tables = sorted(model.pgh_event_model._meta.db_table for model in panel.models_for(user))
    parts.append(".".join("-".join(map(str, versions.get(table, (0, 0)))) for table in tables))
    parts.append(timezone.localdate().isoformat())
    return ":".join(parts)


# --- The panels' queries ---------------------------------------------------------------------------------


def members_numbers(user) -> dict:
    """Active members and those with a current job, per classification (one query)."""
    current_job = MemberEmployment.objects.filter(member=OuterRef("pk"), is_current=True)
    rows = (
        Member.objects.active()
        .annotate(employed=Exists(current_job))
        .values("classification")
        .annotate(n=Count("pk"), working=Count("pk", filter=Q(employed=True)))
        .order_by()
    )
    return {row["classification"]: (row["n"], row["working"]) for row in rows}


def students_numbers(user) -> dict:
    """Students holding an enrollment of each status (as the student list's enrollment_status filter counts
    them: a student with several enrollments counts under each of their statuses), and applicants without any
    enrollment; one query."""
    enrollments = Enrollment.objects.filter(student=OuterRef("pk"))
    counts = {
        status: Count("pk", filter=Q(Exists(enrollments.filter(status=status)))) for status in EnrollmentStatus.values
    }
    counts[APPLICANT] = Count("pk", filter=~Q(Exists(enrollments)))
    counts["total"] = Count("pk")
    return Student.objects.visible_to(user).aggregate(**counts)


def cohorts_numbers(user) -> list[dict]:
    """The cohorts in progress (status active) with the open enrollments of live students; few by nature."""
    open_enrollments = Count(
        "enrollments",
        filter=Q(enrollments__status__in=OPEN_ENROLLMENT, enrollments__student__deleted_at__isnull=True),
    )
    return list(
        Cohort.objects.visible_to(user)
        .filter(status=CohortStatus.ACTIVE)
        .annotate(students=open_enrollments)
        .order_by("start_date", "pk")
        .values("pk", "name", "code", "max_students", "students")
    )


def credentials_numbers(user) -> int:
    """Active credentials of live students expiring within the next EXPIRING_DAYS days."""
    today = timezone.localdate()
    return (
        Credential.objects.visible_to(user)
        .filter(
            status=CredentialStatus.ACTIVE,
            expiration_date__gte=today,
            expiration_date__lte=today + timedelta(days=EXPIRING_DAYS),
            student__deleted_at__isnull=True,
        )
        .count()
    )


PANELS = {
    "members": (Panel("members", "members.view_member", (Member, MemberEmployment), False), members_numbers),
    "students": (Panel("students", "training.view_student", (Student, Enrollment), True), students_numbers),
    "cohorts": (Panel("cohorts", "training.view_cohort", (Cohort, Enrollment, Student), True), cohorts_numbers),
    "credentials": (
        Panel("credentials", "training.view_credential", (Credential, Student), True),
        credentials_numbers,
    ),
}


def visible_panels(user) -> list[str]:
    """The names of the panels whose list the user may open."""
    return [name for name, (panel, _) in PANELS.items() if user.has_perm(panel.permission)]


def panel_numbers(user, names: list[str], versions: dict | None = None) -> dict:
    """Each named panel's numbers, from the shared cache when the data has not changed since. ``versions``:
    data versions read already this request (domain_versions()), used when they cover the panels' models."""
    if not names:
        return {}
    models = {model for name in names for model in PANELS[name][0].models_for(user)}
    tracked = tracked_tables()
    if versions is None or not {tracked[model._meta.db_table] for model in models} <= versions.keys():
        versions = data_versions(models)
    keys = {name: cache_key(PANELS[name][0], user, versions) for name in names}
    cached = cache.get_many(keys.values())
    numbers, missing = {}, {}
    for name, key in keys.items():
        if key in cached:
            numbers[name] = cached[key]
        else:
            numbers[name] = missing[key] = PANELS[name][1](user)
    if missing:
        cache.set_many(missing, CACHE_SECONDS)
    return numbers


# --- Presentation: labels, links and bar charts ------------------------------------------------------------

BAR_HEIGHT, ROW_HEIGHT, LABEL_WIDTH, BAR_WIDTH = 18, 28, 190, 330


def bar_chart(rows: list[dict]) -> dict:
    """Geometry of a horizontal bar chart (SVG user units) for rows of {"label", "value", "url"}."""
    top = max((row["value"] for row in rows), default=0) or 1
    bars = []
    for index, row in enumerate(rows):
        width = round(BAR_WIDTH * row["value"] / top, 1)
        y = index * ROW_HEIGHT
        bars.append(
            {
                **row,
                "y": y,
                "text_y": y + BAR_HEIGHT - 4,
                "width": width,
                "value_x": LABEL_WIDTH + width + 6,
            }
        )
    return {
        "bars": bars,
        "height": len(rows) * ROW_HEIGHT,
        "label_width": LABEL_WIDTH,
        "label_x": LABEL_WIDTH - 8,
        "bar_height": BAR_HEIGHT,
    }


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def members_panel(numbers: dict) -> dict:
    rows = []
    for value, label in MemberClassification.choices:
        count, working = numbers.get(value, (0, 0))
        url = link("members:member_list", status="active", classification=value)
        rows.append({"value_name": value, "label": label, "value": count, "working": working, "url": url})
    active = sum(row["value"] for row in rows)
    employed = sum(row["working"] for row in rows)
    return {
        "active": active,
        "employed": employed,
        "rate": percent(employed, active),
        # No list filter for "has a current job" exists: the rate links to the active members it is taken over.
        "active_url": link("members:member_list", status="active"),
        "rows": rows,
        "chart": bar_chart(rows),
    }


def students_panel(numbers: dict) -> dict:
    statuses = [*EnrollmentStatus.choices, (APPLICANT, "Applicant (no enrollment)")]
    rows = [
        {
            "value_name": value,
            "label": label,
            "value": numbers.get(value, 0),
            "url": link("training:student_list", enrollment_status=value),
        }
        for value, label in statuses
    ]
    return {
        "total": numbers["total"],
        "total_url": link("training:student_list"),
        "rows": rows,
        "chart": bar_chart(rows),
    }


def cohorts_panel(numbers: list[dict]) -> dict:
    try:
        reverse("training:cohort_detail", args=[0])
        detail = True
    except NoReverseMatch:
        detail = False
    cohorts = [
        {**cohort, "url": reverse("training:cohort_detail", args=[cohort["pk"]]) if detail else None}
        for cohort in numbers
    ]
    return {
        "count": len(cohorts),
        "students": sum(cohort["students"] for cohort in cohorts),
        "url": link("training:cohort_list", status=CohortStatus.ACTIVE),
        "cohorts": cohorts,
    }


def credentials_panel(numbers: int) -> dict:
    return {"count": numbers, "days": EXPIRING_DAYS, "url": link("training:credential_expiring", days=EXPIRING_DAYS)}


PRESENTERS = {
    "members": members_panel,
    "students": students_panel,
    "cohorts": cohorts_panel,
    "credentials": credentials_panel,
}


def domain_versions() -> dict:
    """The data versions of every domain model's event table (audit.timeline.DOMAIN_MODELS: what the
    recent-activity panel can show, and every panel's models), in one statement."""
    from audit.timeline import event_model_of, tracked_models

    return table_versions(event_model_of(model)._meta.db_table for model in tracked_models())


def recent_activity(user, versions: dict):
    """{"html": the recent-activity panel} — the last 10 history events the user may see — or None until audit
    has them. ``versions``: domain_versions(), read once for the whole page.

    Reading and describing those events was most of every dashboard view's server time (the page everyone lands
    on; `pagetimes` in docs/benchmarks.md, session 11). The panel is kept in the shared cache per set of grants (what
    the user may see, and which links they get), per user where an instructor sees only their own cohorts, under
    the data versions of the event tables of every model the panel can show: each write to them — a new record,
    an edit, a rename shown in a record's name, a soft delete that hides events — adds an event, so the panel is
    rendered again when it may change. User accounts' events are left out of the key (every login writes one);
    a renamed account shows under its old name in the panel's diffs for at most CACHE_SECONDS."""
    try:
        from audit.timeline import recent_events

        template = get_template("audit/recent_activity.html")
    except (ImportError, TemplateDoesNotExist):
        return None
    history_url = link("audit:history_list") if user.has_perm("audit.view_global_log") else None
    own = user.pk if limited_to_own_cohorts(user) else None
    key = version_key(
        "dashboard-activity", grants(user).digest, user.is_superuser, own, history_url, versions=versions
    )
    html = cache.get(key)
    if html is None:
        context = {"entries": recent_events(user=user, limit=10), "show_record": True, "history_url": history_url}
        html = str(template.render(context))
        cache.set(key, html, CACHE_SECONDS)
    return {"html": mark_safe(html)}  # noqa: S308 (rendered from our template, which escapes)


class DashboardView(TemplateView):
    """The start page: the panels the user's roles may see, and their recent activity."""

    template_name = "dashboard.html"
    reads_from_replica = True  # ip2a/routers.py

    def get_context_data(self, **kwargs):
        user = self.request.user
        prefetch_related_objects([user], "groups")  # the roles are read several times below: one query
        names = visible_panels(user)
        versions = domain_versions()  # one statement for the panels and the recent activity
        numbers = panel_numbers(user, names, versions)
        panels = {name: PRESENTERS[name](numbers[name]) for name in names}
        return super().get_context_data(
            panels=panels,
            limited_to_own_cohorts=limited_to_own_cohorts(user),
            recent_activity=recent_activity(user, versions),
            **kwargs,
        )
