"""{% changes_list %} (audit/templatetags/history.py) writes what the template it replaced wrote."""

import pytest
from django.template import engines
from django.utils.safestring import mark_safe

from audit.templatetags.history import changes_list

# templates/audit/changes.html before the list moved to Python, verbatim (with its final newline).
TEMPLATE = """{% if changes %}<ul class="changes">{% for label, old, new in changes %}
<li><span class="change-field">{{ label }}</span>: {% if old %}<del>{{ old|truncatechars:120 }}</del> → {% endif %}<ins>{{ new|truncatechars:120|default:"—" }}</ins></li>{% endfor %}
</ul>{% else %}—{% endif %}
"""  # noqa: E501

CASES = {
    "none": [],
    "created": [("Last name", "", "Ruiz"), ("Status", "", "Active"), ("Notes", "", "")],
    "updated": [("Phone", "555-0100", "555-0199"), ("Email", "a@example.org", "")],
    "escaped": [("Notes", "<b>old</b>", 'Tom & "Jerry" <script>')],
    "long": [("Notes", "x" * 121, "é" * 120 + "ab"), ("Address line 1", "y" * 120, "z" * 119)],
    "not in normal form": [("Last name", "Rene\u0301", "Jose\u0301" + "e\u0301" * 130)],
    "safe text": [("Employer", mark_safe("<a>Sparks</a>"), mark_safe("<em>" + "w" * 130 + "</em>"))],  # noqa: S308
}


@pytest.mark.parametrize("changes", CASES.values(), ids=CASES.keys())
def test_the_list_is_what_the_template_wrote(changes):
    expected = engines["django"].from_string(TEMPLATE).render({"changes": changes})

    assert changes_list(changes) == expected
