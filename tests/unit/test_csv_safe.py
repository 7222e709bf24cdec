"""CSV export cells cannot start a spreadsheet formula, whatever Unicode comes first.

OWASP, "CSV Injection" (https://owasp.org/www-community/attacks/CSV_Injection): prefix
with ``'`` any cell that begins with ``= + - @``, tab or carriage return; ASVS 5.0
V1.2.10 adds NUL. Spreadsheets and import steps trim leading whitespace and fold
full-width forms (``＝`` typed on a Japanese keyboard starts a formula in Excel), so the
check is made on what a reader sees: NFKC, then leading blanks/invisibles skipped.

The property below defines "invisible" and "formula start" on its own (Unicode
categories), not with the function under test.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from invoicing_plugin.services.analytics import csv_safe

ASCII_FORMULA = "=+-@"
#: Characters NFKC folds to a formula start, and dashes a spreadsheet may read as minus.
LOOK_ALIKES = (
    "\uff1d\uff0b\uff0d\uff20"  # full-width ＝ ＋ － ＠
    "\ufe66\ufe62\ufe63\ufe6b"  # small ﹦ ﹢ ﹣ ﹫
    "\u207c\u208c\u207a\u208a\u207b\u208b"  # super/subscript = + -
    "\u2212\u2010\u2011\u2012\u2013\u2014\u2015\ufe58"  # minus sign and dashes
)
#: Leading characters a reader does not see or trims.
BLANKS = " \t\r\n\x00\x0b\x0c\xa0\u1680\u2000\u2007\u200a\u2028\u2029\u202f\u205f\u3000\u200b\u200c\u200d\u2060\ufeff\u00ad\u202e\u061c"


def reader_view(cell: str) -> str:
    """What a spreadsheet or a trimming import step starts reading at."""
    folded = unicodedata.normalize("NFKC", cell)
    index = 0
    while index < len(folded) and (folded[index].isspace() or unicodedata.category(folded[index])[0] in "ZC"):
        index += 1
    return folded[index:]


def starts_formula(cell: str) -> bool:
    view = reader_view(cell)
    return bool(view) and (view[0] in ASCII_FORMULA or view[0] == "\u2212" or unicodedata.category(view[0]) == "Pd")


leading = st.text(
    alphabet=st.one_of(st.sampled_from(BLANKS), st.characters(categories=["Zs", "Zl", "Zp", "Cc", "Cf"])),
    max_size=6,
)
formula_start = st.sampled_from(ASCII_FORMULA + LOOK_ALIKES)


@given(leading, formula_start, st.text(max_size=20))
@example("", "=", 'HYPERLINK("http://evil")')
@example("  ", "=", "1+1")
@example("\xa0", "+", "cmd|' /C calc'!A0")
@example("\u3000", "\uff20", "SUM(1+1)")
@example("\t", "-", "2+3")
@example("\u200b\ufeff", "\uff1d", "1")
def test_a_hostile_cell_is_neutralised(blank, start, rest):
    cell = blank + start + rest
    safe = csv_safe(cell)
    assert safe == "'" + cell  # prefixed, nothing else changed
    assert not starts_formula(safe)


@given(st.text(max_size=30))
@example(" =1+1")
@example("\u00a0\uff0b1")
@example("\x00x")
def test_any_text_comes_out_unchanged_or_prefixed_and_never_starts_a_formula(cell):
    safe = csv_safe(cell)
    assert safe in (cell, "'" + cell)
    assert not starts_formula(safe)
    assert csv_safe(safe) == safe  # applying it twice changes nothing more
    if cell[:1] in ("\t", "\r", "\n", "\x00"):
        assert safe == "'" + cell  # OWASP / ASVS control characters, whatever follows


@pytest.mark.parametrize("cell", [
    "Acme Security", "Globex Corporation", "Q3 penetration test", "billing@globex.test", "INV-0001",
    "100% uptime review", "|pipe", "'quoted", "Ärzte GmbH", "株式会社", " Acme", "", "1250.50",
])
def test_ordinary_text_is_left_alone(cell):
    assert csv_safe(cell) == cell


def test_none_is_an_empty_cell():
    assert csv_safe(None) == ""
