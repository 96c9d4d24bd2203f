"""The portal's form renderer (settings.FORM_RENDERER): Django's TemplatesSetting, with the templates every
form field goes through written in Python, to the byte.

Every field of a form page goes through four to six small templates (the field group, its label, its error
list, its widget and the widget's attributes; a <select> one more per option), each rendered with a full
template Context: about two thirds of the server time of a form page. The renderer below writes the common
ones in Python instead, to the byte what the template writes. Each shortcut stands for one template source,
checked when first used: a template that differs (an app overriding it, a Django upgrade, an edit of
templates/django/forms/field.html) is rendered by the template engine, as are values a template would treat
differently (callables, numbers and dates, which templates localize).
"""

import html

from django.forms.renderers import TemplatesSetting
from django.template import TemplateDoesNotExist
from django.utils.autoreload import file_changed
from django.utils.functional import Promise
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData

_WIDGET_ATTRS = (
    "{% for name, value in widget.attrs.items %}{% if value is not False %} {{ name }}{% if value is not True %}"
    "=\"{{ value|stringformat:'s' }}\"{% endif %}{% endif %}{% endfor %}"
)
_INPUT = (
    '<input type="{{ widget.type }}" name="{{ widget.name }}"{% if widget.value != None %} value="'
    '{{ widget.value|stringformat:\'s\' }}"{% endif %}{% include "django/forms/widgets/attrs.html" %}>\n'
)
_INCLUDE_INPUT = '{% include "django/forms/widgets/input.html" %}\n'
_SOURCES = {
    "django/forms/widgets/attrs.html": _WIDGET_ATTRS,
    "django/forms/widgets/input.html": _INPUT,
    "django/forms/attrs.html": _WIDGET_ATTRS.replace("widget.attrs.items", "attrs.items"),
    "django/forms/label.html": (
        "{% if use_tag %}<{{ tag }}{% include 'django/forms/attrs.html' %}>{{ label }}</{{ tag }}>"
        "{% else %}{{ label }}{% endif %}\n"
    ),
    "django/forms/errors/list/default.html": '{% include "django/forms/errors/list/ul.html" %}',
    "django/forms/errors/list/ul.html": (
        '{% if errors %}<ul class="{{ error_class }}"{% if errors.field_id %} id="{{ errors.field_id }}_error"'
        "{% endif %}>{% for error in errors %}<li>{{ error }}</li>{% endfor %}</ul>{% endif %}"
    ),
    "django/forms/widgets/textarea.html": (
        '<textarea name="{{ widget.name }}"{% include "django/forms/widgets/attrs.html" %}>\n'
        "{% if widget.value %}{{ widget.value }}{% endif %}</textarea>\n"
    ),
    "django/forms/widgets/select.html": (
        '<select name="{{ widget.name }}"{% include "django/forms/widgets/attrs.html" %}>{% for group_name, '
        "group_choices, group_index in widget.optgroups %}{% if group_name %}\n"
        '  <optgroup label="{{ group_name }}">{% endif %}{% for option in group_choices %}\n'
        "  {% include option.template_name with widget=option %}{% endfor %}{% if group_name %}\n"
        "  </optgroup>{% endif %}{% endfor %}\n"
        "</select>\n"
    ),
    "django/forms/widgets/select_option.html": (
        '<option value="{{ widget.value|stringformat:\'s\' }}"{% include "django/forms/widgets/attrs.html" %}>'
        "{{ widget.label }}</option>\n"
    ),
    "django/forms/field.html": (
        '{% if field.use_fieldset %}<fieldset{% if field.help_text and field.auto_id and "aria-describedby" not '
        'in field.field.widget.attrs %} aria-describedby="{{ field.auto_id }}_helptext"{% endif %}>\n'
        "  {% if field.label %}{{ field.legend_tag }}{% endif %}\n"
        '{% else %}<div class="field{% if field.errors %} has-errors{% endif %}">\n'
        "  {% if field.label %}{{ field.label_tag }}{% endif %}\n"
        "{% endif %}\n"
        '{% if field.help_text %}<span class="helptext"{% if field.auto_id %} id="{{ field.auto_id }}_helptext"'
        "{% endif %}>{{ field.help_text|safe }}</span>{% endif %}\n"
        "{{ field.errors }}\n"
        "{{ field }}\n"
        "{% if field.use_fieldset %}</fieldset>{% else %}</div>{% endif %}\n"
    ),
}
# The widgets whose template only includes input.html.
_INPUT_WIDGETS = [
    f"django/forms/widgets/{name}.html"
    for name in ("text", "email", "url", "number", "password", "hidden", "date", "datetime", "time", "checkbox")
]
_SOURCES.update(dict.fromkeys(_INPUT_WIDGETS, _INCLUDE_INPUT))


class _Fallback(Exception):
    """A value the shortcut does not write as the template would: render the template instead."""


def _text(value) -> str:
    """``{{ value }}`` for a string (lazy or not), escaped unless safe."""
    if type(value) is str:
        return html.escape(value)  # what django.utils.html.escape() does, without its lazy-string wrapper
    if isinstance(value, str):
        return conditional_escape(value)
    if isinstance(value, Promise):
        return conditional_escape(str(value))
    raise _Fallback


def _string(value) -> str:
    """``{{ value|stringformat:'s' }}``: any value as str, escaped unless safe; callables are called by
    templates, so they fall back."""
    kind = type(value)
    if kind is str:
        return html.escape(value)
    if kind is int:
        return str(value)
    if callable(value):
        raise _Fallback
    text = str(value)  # what "%s" % value gives (stringformat turns a tuple into one value first)
    return text if isinstance(value, SafeData) else html.escape(text)


def _attrs(attrs: dict) -> str:
    return "".join(
        f" {_text(name)}" if value is True else f' {_text(name)}="{_string(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def _input(context) -> str:
    widget = context["widget"]
    value = widget["value"]
    shown = "" if value is None else f' value="{_string(value)}"'
    return f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{shown}{_attrs(widget["attrs"])}>'


def _textarea(context) -> str:
    widget = context["widget"]
    value = widget["value"]
    if value is not None and not isinstance(value, str):
        raise _Fallback
    body = _text(value) if value else ""
    return f'<textarea name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>\n{body}</textarea>'


class PortalFormRenderer(TemplatesSetting):
    """FORM_RENDERER: Django's TemplatesSetting (templates/django/forms/field.html, then Django's own form
    templates), with the templates every form field uses written in Python, to the same bytes (see above)."""

    def __init__(self):
        super().__init__()
        self._checked = {}  # template name -> whether its source is the one its shortcut stands for
        self._shortcuts = {
            "django/forms/field.html": self._field,
            "django/forms/label.html": self._label,
            "django/forms/errors/list/default.html": self._errors,
            "django/forms/widgets/textarea.html": _textarea,
            "django/forms/widgets/select.html": self._select,
            **dict.fromkeys(_INPUT_WIDGETS, _input),
        }
        # What each shortcut includes, which must be unchanged too.
        self._includes = {
            "django/forms/label.html": ("django/forms/attrs.html",),
            "django/forms/errors/list/default.html": ("django/forms/errors/list/ul.html",),
            "django/forms/widgets/textarea.html": ("django/forms/widgets/attrs.html",),
            "django/forms/widgets/select.html": (
                "django/forms/widgets/attrs.html",
                "django/forms/widgets/select_option.html",
            ),
            **dict.fromkeys(_INPUT_WIDGETS, ("django/forms/widgets/input.html", "django/forms/widgets/attrs.html")),
        }
        file_changed.connect(self._forget, weak=True)

    def _forget(self, **kwargs) -> None:
        """runserver: a template file changed; check the sources again."""
        self._checked = {}

    def _unchanged(self, template_name: str) -> bool:
        checked = self._checked.get(template_name)
        if checked is None:
            names = (template_name, *self._includes.get(template_name, ()))
            checked = all(self._source(name) == _SOURCES[name] for name in names)
            self._checked[template_name] = checked
        return checked

    def _source(self, template_name: str) -> str | None:
        try:
            template = self.get_template(template_name)
        except TemplateDoesNotExist:
            return None
        return getattr(getattr(template, "template", None), "source", None)

    def render(self, template_name, context, request=None):
        shortcut = self._shortcuts.get(template_name)
        if shortcut is not None and self._unchanged(template_name):
            try:
                return shortcut(context)
            except _Fallback:
                pass
        return super().render(template_name, context, request)

    def _label(self, context) -> str:
        label = _text(context["label"])
        if not context["use_tag"]:
            return label.strip()
        tag = _text(context["tag"])
        return f"<{tag}{_attrs(context['attrs'])}>{label}</{tag}>"

    def _errors(self, context) -> str:
        errors = context["errors"]
        if not errors:
            return ""
        field_id = errors.field_id
        where = f' id="{_text(field_id)}_error"' if field_id else ""
        items = "".join(f"<li>{_text(error)}</li>" for error in errors)
        return f'<ul class="{_text(context["error_class"])}"{where}>{items}</ul>'

    def _select(self, context) -> str:
        widget = context["widget"]
        parts = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
        option_template = "django/forms/widgets/select_option.html"
        for group_name, group_choices, _index in widget["optgroups"]:
            if group_name:
                parts.append(f'\n  <optgroup label="{_text(group_name)}">')
            for option in group_choices:
                if option["template_name"] != option_template:
                    raise _Fallback
                parts.append(
                    f'\n  <option value="{_string(option["value"])}"{_attrs(option["attrs"])}>'
                    f"{_text(option['label'])}</option>\n"  # the newline ending select_option.html
                )
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return "".join(parts)

    def _field(self, context) -> str:
        if set(context) != {"field"}:
            raise _Fallback
        field = context["field"]
        auto_id, help_text, errors = field.auto_id, field.help_text, field.errors
        if callable(help_text):
            raise _Fallback
        if field.use_fieldset:
            described = help_text and auto_id and "aria-describedby" not in field.field.widget.attrs
            parts = [f'<fieldset aria-describedby="{_text(auto_id)}_helptext">\n  ' if described else "<fieldset>\n  "]
            if field.label:
                parts.append(str(field.legend_tag()))
        else:
            parts = ['<div class="field has-errors">\n  ' if errors else '<div class="field">\n  ']
            if field.label:
                parts.append(str(field.label_tag()))
        parts.append("\n\n")
        if help_text:
            where = f' id="{_text(auto_id)}_helptext"' if auto_id else ""
            parts.append(f'<span class="helptext"{where}>{help_text}</span>')
        parts += ["\n", str(errors), "\n", str(field), "\n", "</fieldset>" if field.use_fieldset else "</div>"]
        return "".join(parts).strip()
