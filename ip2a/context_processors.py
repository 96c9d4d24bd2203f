"""Template context every page needs: the product version and the navigation the user may see."""

from django.conf import settings
from django.urls import NoReverseMatch, reverse

# (label, URL name, permission needed). A section appears once its URL exists and the user may open it.
NAVIGATION = [
    ("Members", "members:member_list", "members.view_member"),
    ("Organizations", "organizations:organization_list", "organizations.view_organization"),
    ("Training", "training:student_list", "training.view_student"),
    ("Audit", "audit:history_list", "audit.view_global_log"),
]


def portal(request):
    """Return the version for the footer and the navigation entries the user may see."""
    nav = []
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        for label, url_name, permission in NAVIGATION:
            try:
                url = reverse(url_name)
            except NoReverseMatch:
                continue
            if user.has_perm(permission):
                nav.append({"label": label, "url": url, "active": request.path.startswith(url)})
    return {"ip2a_version": settings.IP2A_VERSION, "ip2a_env": settings.IP2A_ENV, "navigation": nav}
