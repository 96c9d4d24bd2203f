"""Django's {% url %} and |date, with the same output and errors, at a fraction of their cost on the rows of a
table (a member page with thirty jobs renders about ninety links and seventy dates).

Loaded as a builtin (settings.TEMPLATES "builtins"), after Django's own, so every template's {% url %} and
|date — the portal's and the admin's — are these without a {% load %}:

- {% url %} builds links from each route's shape (ip2a.routes). Arguments written as string literals in the
  template are part of the shape; variables must be primary keys for the shaped path; anything else goes to
  Django's reverse() as before.
- |date writes the formats the portal's tables use ("Y-m-d", "Y-m-d H:i", "Y-m-d H:i:s" and "c") straight
  from the value's fields; any other format, or a value that is not a date, goes to Django's filter.
"""

import datetime

from django import template
from django.template import defaultfilters, defaulttags
from django.urls import NoReverseMatch
from django.utils.html import conditional_escape

from ip2a.routes import shaped_reverse

register = template.Library()


class ShapedURLNode(defaulttags.URLNode):
    def __init__(self, view_name, args, kwargs, asvar):
        super().__init__(view_name, args, kwargs, asvar)
        # Arguments that are plain string literals ({% url "attachments:list" "members" … %}): the same text on
        # every render, so they belong to the route's shape.
        self.fixed = frozenset(index for index, arg in enumerate(args) if isinstance(arg.var, str) and not arg.filters)

    def render(self, context):
        if self.kwargs:
            return super().render(context)
        args = [arg.resolve(context) for arg in self.args]
        view_name = self.view_name.resolve(context)
        url = ""
        try:
            url = shaped_reverse(view_name, args, fixed=self.fixed, current_app=current_app(context))
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


def current_app(context) -> str | None:
    """The application namespace {% url %} reverses in: the request's current_app (the admin sets it), else the
    namespace of the view that answered (Django's URLNode does the same)."""
    try:
        return context.request.current_app
    except AttributeError:
        try:
            return context.request.resolver_match.namespace
        except AttributeError:
            return None


@register.tag
def url(parser, token):
    """{% url %} exactly as Django's (same syntax, output and errors), faster for links to records."""
    node = defaulttags.url(parser, token)
    return ShapedURLNode(node.view_name, node.args, node.kwargs, node.asvar)


def _ymd(value) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _ymd_hm(value) -> str:
    return f"{_ymd(value)} {value.hour:02d}:{value.minute:02d}"


def _ymd_hms(value) -> str:
    return f"{_ymd_hm(value)}:{value.second:02d}"


# The formats written directly, each as django.utils.dateformat writes it ("c" is its isoformat()).
DATE_FORMATS = {"Y-m-d": _ymd, "c": datetime.date.isoformat}
DATETIME_FORMATS = {"Y-m-d": _ymd, "Y-m-d H:i": _ymd_hm, "Y-m-d H:i:s": _ymd_hms, "c": datetime.datetime.isoformat}


@register.filter(expects_localtime=True, is_safe=False)
def date(value, arg=None):
    """|date exactly as Django's (the value arrives in the current time zone, as there)."""
    if type(value) is datetime.datetime:
        write = DATETIME_FORMATS.get(arg)
    elif type(value) is datetime.date:
        write = DATE_FORMATS.get(arg)
    else:
        write = None
    return write(value) if write is not None else defaultfilters.date(value, arg)
