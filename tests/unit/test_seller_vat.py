"""The seller's VAT number (EN 16931 BT-31) is checked offline per country with python-stdnum.

Valid ids are stdnum's own documented examples (``stdnum.gb.vat``: GB980780684;
``stdnum.de.vat``: DE136695976; ``stdnum.fr.tva``: FR40303265045; ``stdnum.gr.vat``:
EL094259216); a changed last digit breaks the check digits.
"""

from __future__ import annotations

import pytest

from invoicing_plugin.services.seller import normalize_vat_id


@pytest.mark.parametrize(("typed", "country", "stored"), [
    ("GB980780684", "GB", "GB980780684"),
    ("GB 980 7806 84", "GB", "GB980780684"),
    ("980780684", "GB", "GB980780684"),  # no prefix: the country's is added
    ("gb980780684", "gb", "GB980780684"),
    ("XI980780684", "GB", "XI980780684"),  # Northern Ireland, under the EU's rules
    ("DE136695976", "DE", "DE136695976"),
    ("DE 136 695 976", "DE", "DE136695976"),
    ("136695976", "DE", "DE136695976"),
    ("FR40303265045", "FR", "FR40303265045"),
    ("FR 40 303 265 045", "FR", "FR40303265045"),
    ("EL094259216", "GR", "EL094259216"),  # Greece's VAT prefix is EL, not GR
    ("094259216", "GR", "EL094259216"),
])
def test_valid_vat_ids_are_stored_compact_with_their_prefix(typed, country, stored):
    assert normalize_vat_id(typed, country) == stored


@pytest.mark.parametrize(("typed", "country"), [
    ("GB980780685", "GB"),
    ("980780685", "GB"),
    ("DE136695977", "DE"),
    ("FR40303265046", "FR"),
    ("FR4030326504", "FR"),  # too short
    ("EL094259217", "GR"),
])
def test_a_wrong_check_digit_or_length_is_refused(typed, country):
    with pytest.raises(ValueError, match=r"not a valid .* VAT number"):
        normalize_vat_id(typed, country)


@pytest.mark.parametrize(("typed", "country", "given", "expected"), [
    ("DE136695976", "FR", "DE", "FR"),  # a valid German id, but the seller is in France
    ("GB980780684", "DE", "GB", "DE"),
    ("FR40303265045", "GB", "FR", "GB"),
    ("GR094259216", "GR", "GR", "EL"),
])
def test_another_countrys_prefix_is_refused_with_the_right_one_named(typed, country, given, expected):
    with pytest.raises(ValueError) as refused:
        normalize_vat_id(typed, country)
    message = str(refused.value)
    assert f"starts with {given}" in message and f"starts with {expected}" in message


def test_a_country_stdnum_has_no_vat_module_for_keeps_the_id_as_typed():
    assert normalize_vat_id(" 12-3456789 ", "US") == "12-3456789"
