"""Template filters and tags every portal page may use ({% load portal %})."""

from django import template
from django.core.cache import cache
from django.template.defaulttags import querystring
from django.utils.html import format_html

from ip2a.caching import CACHE_SECONDS

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


@register.tag
def kept(parser, token):
    """``{% kept key "name" %}…{% endkept %}``: the enclosed part rendered once and served from the shared cache
    while ``key`` (a view's version_key(), which moves with the data the part shows) is unchanged; rendered
    every time when ``key`` is empty. ``name`` tells apart parts kept under one key. Like Django's {% cache %},
    but keyed by data versions rather than by a timeout alone; the context values the part reads are read only
    when it is rendered (pass lazy ones, and its queries are skipped while it is kept)."""
    bits = token.split_contents()
    if len(bits) != 3:
        raise template.TemplateSyntaxError("{% kept %} takes two arguments: the key and the name of the part.")
    nodelist = parser.parse(("endkept",))
    parser.delete_first_token()
    return KeptNode(nodelist, parser.compile_filter(bits[1]), parser.compile_filter(bits[2]))


class KeptNode(template.Node):
    def __init__(self, nodelist, key, name):
        self.nodelist, self.key, self.name = nodelist, key, name

    def render(self, context):
        key = self.key.resolve(context)
        if not key:
            return self.nodelist.render(context)
        cache_key = f"kept:{self.name.resolve(context)}:{key}"
        html = cache.get(cache_key)
        if html is None:
            html = self.nodelist.render(context)
            cache.set(cache_key, html, CACHE_SECONDS)
        return html
