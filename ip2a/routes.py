"""URLs of records built from each route's shape instead of a full reverse() per link.

reverse() looks the name up, then tries each candidate pattern: it converts and quotes every argument and
checks the candidate's regular expression against the result. That costs tens of microseconds per link, and a
member page with thirty jobs links each job four times (about ninety reverse() calls on one page; a tenth of
its first view in a profile). But a URL whose arguments are primary keys has a fixed *shape*: the text between
the numbers depends only on the route. ``shaped_reverse()`` reverses a route once per process with a probe
number in each variable slot, checks the result against a second reverse() with another number, keeps the text
around the numbers, and from then on joins the numbers in.

The shape's key holds everything reverse() reads besides the arguments: the URL name, the current app (for
namespaced instances), the URLconf and the script prefix in force, and which arguments are fixed strings
written in the template (their text). Anything else takes Django's reverse() unchanged: keyword arguments,
negative numbers, arguments that are neither integers nor strings of digits, and routes whose shape could not
be proved (a converter that refuses the probe number, two candidates that take different numbers).
"""

from collections import OrderedDict

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

from ip2a.caching import remember

SHAPES_KEPT = 5_000  # route shapes per process (the oldest dropped first); a page uses a few dozen
PROBE, CHECK = 918273645, 7  # numbers no route of the portal writes next to other digits
NUMBER = object()  # a variable argument's place in a shape key

# {shape key: the texts around the numbers, or None for a route without a provable shape}
_shapes: OrderedDict = OrderedDict()


def number_text(value) -> str | None:
    """The URL text of a primary-key argument: a non-negative int (not a bool) or a string of ASCII digits (the
    admin passes quoted keys); None for anything else."""
    if type(value) is int:
        return str(value) if value >= 0 else None
    if type(value) is str and value.isascii() and value.isdigit():
        return value
    return None


def shaped_reverse(view_name: str, args, *, fixed=(), current_app=None) -> str:
    """reverse(view_name, args=args, current_app=current_app), built from the route's shape when every argument
    at an index not in ``fixed`` is a primary key (number_text()). ``fixed`` names the indexes whose values are
    the same on every call from one place (strings written in a template): they are part of the shape."""
    texts, kinds = [], []
    for index, value in enumerate(args):
        if index in fixed and isinstance(value, str):
            kinds.append(value)
            continue
        text = number_text(value)
        if text is None:
            return reverse(view_name, args=args, current_app=current_app)
        texts.append(text)
        kinds.append(NUMBER)
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    key = (view_name, tuple(kinds), current_app, urlconf, get_script_prefix())
    shape = _shapes.get(key, False)
    if shape is False:
        shape = _shape(view_name, kinds, current_app)
        remember(_shapes, key, shape, SHAPES_KEPT)
    if shape is None:
        return reverse(view_name, args=args, current_app=current_app)
    url = shape[0]
    for text, after in zip(texts, shape[1:], strict=True):
        url += text + after
    return url


def _shape(view_name: str, kinds: list, current_app) -> tuple[str, ...] | None:
    """The texts around the numbers of this route, or None when the shape cannot be proved (reverse() then
    answers every call, and raises its own NoReverseMatch for a route that does not exist)."""
    numbers = sum(kind is NUMBER for kind in kinds)
    probe = [PROBE if kind is NUMBER else kind for kind in kinds]
    check = [CHECK if kind is NUMBER else kind for kind in kinds]
    try:
        url = reverse(view_name, args=probe, current_app=current_app)
        expected = reverse(view_name, args=check, current_app=current_app)
    except NoReverseMatch:
        return None
    shape = tuple(url.split(str(PROBE)))
    if len(shape) != numbers + 1:
        return None
    return shape if str(CHECK).join(shape) == expected else None
