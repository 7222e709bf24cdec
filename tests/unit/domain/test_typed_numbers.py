"""Issue 15 F6/F12: what a person types into a line's quantity, unit price, discount and
tax rate is never guessed. A comma could be a thousands separator (English) or a decimal
comma (German): "1,500" days must not silently become 1500 days. Every typed-decimal
parser the lines use is covered (quantity, unit price, line and document discount, rate)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from invoicing_plugin.domain.en16931 import parse_quantity, parse_rate, parse_unit_price
from invoicing_plugin.domain.errors import DomainError
from invoicing_plugin.services.lines import parse_discount


@pytest.mark.parametrize("text", ["1,000", "1,500", "1,5", "0,25", "1.000,5", "12,345,678"])
def test_a_quantity_with_a_comma_is_refused_with_a_point_hint(text) -> None:
    with pytest.raises(DomainError) as caught:
        parse_quantity(text)
    assert "use a point for decimals" in caught.value.message and caught.value.field == "quantity"


@pytest.mark.parametrize("text", ["20,5", "5,5", "1,000"])
def test_a_rate_with_a_comma_is_refused_with_a_point_hint(text) -> None:
    with pytest.raises(DomainError) as caught:
        parse_rate(text)
    assert "use a point for decimals" in caught.value.message


@pytest.mark.parametrize("parse", [
    lambda text: parse_unit_price(text, "GBP"),
    lambda text: parse_discount(text, "GBP"),
])
@pytest.mark.parametrize("text", ["1,000", "1,500", "12,345", "1,234,567"])
def test_a_price_with_only_grouping_commas_is_ambiguous_and_refused(parse, text) -> None:
    with pytest.raises(DomainError) as caught:
        parse(text)
    assert f"Is “{text}”" in caught.value.message and ".00 with a point" in caught.value.message


@pytest.mark.parametrize("text", ["12,50", "1.100,00", "0,5"])
def test_a_price_with_a_decimal_comma_says_to_use_a_point(text) -> None:
    with pytest.raises(DomainError) as caught:
        parse_unit_price(text, "GBP")
    assert "Use a point for decimals" in caught.value.message


@pytest.mark.parametrize(("text", "expected"), [("1,250.50", D("1250.50")), ("1500", D("1500.00")),
                                                ("12,345.00", D("12345.00"))])
def test_prices_with_a_decimal_point_keep_their_thousands_separators(text, expected) -> None:
    assert parse_unit_price(text, "GBP") == expected


@pytest.mark.parametrize(("parse", "what"), [(parse_quantity, "quantity"), (parse_rate, "tax rate")])
@pytest.mark.parametrize("text", ["-2", "-1.5", "- 3"])
def test_a_negative_number_is_called_negative(parse, what, text) -> None:
    with pytest.raises(DomainError) as caught:
        parse(text)
    assert caught.value.message == f"A {what} cannot be negative."
