"""Template filters and tags every portal page may use ({% load portal %})."""

from django import template
from django.template.defaulttags import querystring
from django.utils.html import format_html

register = template.Library()


@register.filter
def verbose_name(obj) -> str:
    """The model's verbose name for an instance or a model class (templates cannot read ``_meta``)."""
    return obj._meta.verbose_name


@register.filter
def verbose_name_plural(obj) -> str:
    """The model's plural verbose name for an instance or a model class."""
    return obj._meta.verbose_name_plural


@register.simple_tag(takes_context=True)
def sortable_th(context, key: str, label: str):
    """A list's column header that sorts by ``key`` (a value of the FilterSet's ``sort`` filter): ascending
    first, descending when already ascending; it keeps the other filters, drops the page number, and says the
    current order to screen readers (aria-sort)."""
    query = context["request"].GET
    current = query.get("sort", "")
    state = {key: "ascending", f"-{key}": "descending"}.get(current)
    href = querystring(context, query, sort=f"-{key}" if current == key else key, page=None)
    aria = format_html(' aria-sort="{}"', state) if state else ""
    return format_html('<th scope="col"{}><a href="{}">{}</a></th>', aria, href, label)
