"""Template filters and tags every portal page may use ({% load portal %})."""

import datetime
import hashlib
import itertools
import pickle
import uuid
from collections import OrderedDict
from decimal import Decimal

from django import template
from django.db.models import Model, QuerySet
from django.template.defaulttags import querystring
from django.urls import get_script_prefix
from django.utils.html import format_html
from django.utils.timezone import get_current_timezone_name
from django.utils.translation import get_language

from ip2a.caching import remember

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


# --- {% keptrow %}: a table row rendered once per process for the values it shows -------------------------

ROWS_KEPT = 20_000  # rendered rows kept per process (a few hundred bytes each)
_rows: OrderedDict = OrderedDict()
_serials = itertools.count()
_PLAIN = (str, int, float, Decimal, datetime.date, datetime.time, datetime.timedelta, uuid.UUID, type(None))


class Unkeyable(Exception):
    """A value whose content cannot be told from its identity (a lazy queryset, a file…)."""


def fingerprint(value, depth: int = 0):
    """A hashable value that equals another's exactly when they would render the same: plain values as they
    are, model instances as their class and every value loaded on them (fields, annotations, attributes set
    by the view, rows fetched by select_related and prefetch_related), lists and tuples item by item. Raises
    Unkeyable for anything else and for structures nested deeper than four levels."""
    if isinstance(value, _PLAIN):  # bool is an int; type() keeps True apart from 1 and Decimal 1 from int 1
        return (type(value), value)
    if depth > 4:
        raise Unkeyable(value)
    if isinstance(value, (list, tuple)):
        return tuple(fingerprint(item, depth + 1) for item in value)
    if isinstance(value, Model):
        loaded = []
        for name, item in vars(value).items():
            if name == "_state":
                related = item.fields_cache.items()
                loaded += [(f"<related {key}>", fingerprint(row, depth + 1)) for key, row in related]
            elif name == "_prefetched_objects_cache":
                loaded += [(f"<prefetched {key}>", fingerprint(rows, depth + 1)) for key, rows in item.items()]
            else:
                loaded.append((name, fingerprint(item, depth + 1)))
        return (type(value), tuple(sorted(loaded, key=lambda pair: pair[0])))
    if isinstance(value, QuerySet) and value._result_cache is not None:  # a prefetched relation
        return fingerprint(value._result_cache, depth + 1)
    raise Unkeyable(value)


class KeptRowNode(template.Node):
    def __init__(self, nodelist, values):
        self.nodelist, self.values = nodelist, values
        self.serial = next(_serials)  # never reused, unlike id() of a node whose template was dropped

    def render(self, context):
        try:
            shown = tuple(fingerprint(value.resolve(context)) for value in self.values)
            # A digest of the fingerprint: the whole one takes ~2.6 KB per member row, its digest 16 bytes.
            # Pickling is faithful (different contents never give the same bytes) and cheaper than repr().
            digest = hashlib.blake2b(pickle.dumps(shown, 5), digest_size=16).digest()
        except (Unkeyable, pickle.PicklingError, TypeError, AttributeError):
            return self.nodelist.render(context)
        setting = (context.autoescape, get_script_prefix(), get_current_timezone_name(), get_language())
        key = (self.serial, digest, setting)
        html = _rows.get(key)
        if html is None:
            html = self.nodelist.render(context)
            remember(_rows, key, html, ROWS_KEPT)
        return html


@register.tag
def keptrow(parser, token):
    """{% keptrow row [value …] %}…{% endkeptrow %}: the block rendered once per process for each distinct
    set of what it shows, then served from memory. ``row`` and any further values (permissions, the parent
    record's state) make the key, by content (fingerprint()): a row whose values changed renders anew, so
    nothing has to be invalidated, and a row whose content cannot be fingerprinted renders every time.

    The block may show only those values and what is loaded on them (fields, annotations, attributes the
    view set, select_related and prefetched rows), never a lazy relation or other context. Rendering a list
    page's 50 rows was a quarter of its CPU when the page itself could not be kept (docs/benchmarks.md)."""
    values = [parser.compile_filter(bit) for bit in token.split_contents()[1:]]
    if not values:
        raise template.TemplateSyntaxError("{% keptrow %} needs the row it renders.")
    nodelist = parser.parse(("endkeptrow",))
    parser.delete_first_token()
    return KeptRowNode(nodelist, values)
