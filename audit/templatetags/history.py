"""History on record pages: ``{% load history %}``, then ``{% recent_activity object %}`` for the panel of the
record's last changes and ``{% record_history_url object as url %}`` for the link to its history tab."""

from django import template
from django.urls import NoReverseMatch, reverse

from audit.timeline import record_events

register = template.Library()

RECENT_EVENTS = 10


@register.simple_tag(takes_context=True)
def record_history_url(context, obj) -> str:
    """The URL of the record's history tab (``<app_label>:<model>_history``), or "" when the user may not
    see it or the route does not exist."""
    from audit.views import may_view_history

    request = context.get("request")
    if request is None or not may_view_history(request.user, type(obj)):
        return ""
    try:
        return reverse(f"{obj._meta.app_label}:{obj._meta.model_name}_history", args=[obj.pk])
    except NoReverseMatch:
        return ""


@register.inclusion_tag("audit/recent_activity.html", takes_context=True)
def recent_activity(context, obj, entries=None):
    """The panel of the record's last changes and those of its owned rows (pass ``entries`` when the view
    has read them already)."""
    request = context.get("request")
    if entries is None:
        entries, _more = record_events(obj, user=getattr(request, "user", None), stop=RECENT_EVENTS)
    return {
        "entries": entries,
        "record_label": obj._meta.label_lower,
        "record_id": obj.pk,
        "history_url": record_history_url(context, obj),
        "request": request,
    }
