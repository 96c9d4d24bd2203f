"""The shared resource machinery: formula escaping both ways."""

import pytest

from ip2a.resources import escape_formula, unescape_formula


@pytest.mark.parametrize(
    ("value", "exported"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1 206 555 0100", "'+1 206 555 0100"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("Ruiz", "Ruiz"),
        ("'quoted'", "'quoted'"),
        ("'=typed with an apostrophe", "''=typed with an apostrophe"),
        ("", ""),
        (None, None),
    ],
)
def test_escape_formula_prefixes_only_formula_text(value, exported):
    assert escape_formula(value) == exported


@pytest.mark.parametrize("value", ["=SUM(A1)", "+1 206 555 0100", "'quoted'", "'=x", "''=x", "Ruiz", ""])
def test_unescape_formula_undoes_escape_formula(value):
    assert unescape_formula(escape_formula(value)) == value
