"""Project-level views: the dashboard and the health probes. Shared list/detail/form machinery joins
this module with the portal pages."""

from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import Group
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.generic import TemplateView

from ip2a.roles import ROLE_LABELS, ROLE_NAMES


class DashboardView(TemplateView):
    """The start page: real counts from the database (users per role until the domain arrives)."""

    template_name = "dashboard.html"

    def get_context_data(self, **kwargs):
        """Add the number of users holding each role, zero included."""
        counts = dict(Group.objects.filter(name__in=ROLE_NAMES).annotate(n=Count("user")).values_list("name", "n"))
        roles = [{"name": role, "label": ROLE_LABELS[role], "users": counts.get(role, 0)} for role in ROLE_NAMES]
        return super().get_context_data(roles=roles, **kwargs)


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """Liveness: the process answers. Touches no database."""
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_GET
def readyz(request):
    """Readiness: the database answers and every migration is applied; 503 otherwise."""
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    if pending:
        return JsonResponse({"status": "unavailable", "database": "migrations pending"}, status=503)
    return JsonResponse({"status": "ready", "database": "ok"})
