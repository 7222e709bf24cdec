"""Quantities and VAT rates are stored exactly, as canonical decimal text, on every database
(``persistence.models.DecimalText``, revision 0011): no float ever reaches the column."""

from __future__ import annotations

from decimal import Decimal

import pytest

from invoicing_plugin.persistence.models import DecimalText


@pytest.mark.parametrize("value, text", [(Decimal("1.50"), "1.5"), (Decimal("20"), "20"), (Decimal("1E+2"), "100"),
                                          (Decimal("0.0001"), "0.0001"), (Decimal("-0"), "0"), (Decimal("0.00"), "0")])
def test_decimals_are_stored_as_canonical_text(value, text):
    assert DecimalText.canonical(value) == text
    assert DecimalText().process_result_value(text, None) == value


@pytest.mark.parametrize("value, error", [(1.5, TypeError), (2, TypeError), (Decimal("NaN"), ValueError),
                                           (Decimal("Infinity"), ValueError)])
def test_floats_and_non_finite_values_never_reach_a_column(value, error):
    with pytest.raises(error):
        DecimalText().process_bind_param(value, None)
