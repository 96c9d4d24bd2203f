"""Template filters every portal page may use ({% load portal %})."""

from django import template

register = template.Library()


@register.filter
def verbose_name(obj) -> str:
    """The model's verbose name for an instance or a model class (templates cannot read ``_meta``)."""
    return obj._meta.verbose_name


@register.filter
def verbose_name_plural(obj) -> str:
    """The model's plural verbose name for an instance or a model class."""
    return obj._meta.verbose_name_plural
