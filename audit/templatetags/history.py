"""History on record pages: ``{% load history %}``, then ``{% recent_activity object %}`` for the panel of the
record's last changes, ``{% record_history_url object as url %}`` for the link to its history tab and
``{% changes_list entry.changes %}`` for an entry's changed fields."""

import unicodedata

from django import template
from django.template.defaultfilters import truncatechars
from django.urls import NoReverseMatch, reverse
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from audit.timeline import record_events

register = template.Library()

RECENT_EVENTS = 10
CHANGE_TEXT_CHARS = 120  # longer old and new values are cut to this many characters, with an ellipsis


def _shortened(text: str) -> str:
    """Django's ``|truncatechars:120``, without its work for the texts it leaves alone (most of them): a short
    text in normal form comes back as it is."""
    if isinstance(text, str) and len(text) <= CHANGE_TEXT_CHARS and unicodedata.is_normalized("NFC", text):
        return text
    return truncatechars(text, CHANGE_TEXT_CHARS)


@register.simple_tag
def changes_list(changes) -> str:
    """An entry's changes, [(field label, old text, new text)], as a list ("—" when there are none): "label:
    old → new", the old value left out when empty, an empty new value shown as "—". Written in Python: a
    member's first history entry lists twenty fields, and the template this replaces (audit/changes.html,
    included per entry) was a third of a member page's recent-activity panel."""
    if not changes:
        return "—\n"
    items = []
    for label, old, new in changes:
        was = f"<del>{conditional_escape(_shortened(old))}</del> → " if old else ""
        field = f'<span class="change-field">{conditional_escape(label)}</span>'
        now = conditional_escape(_shortened(new) or "—")
        items.append(f"\n<li>{field}: {was}<ins>{now}</ins></li>")
    return mark_safe(f'<ul class="changes">{"".join(items)}\n</ul>\n')  # noqa: S308 (every value is escaped)


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
